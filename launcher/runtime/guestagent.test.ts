import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestAgentError } from './errors.js';
import { AgentStreamDecoder, connectGuestAgent, GuestAgentClient } from './guestagent.js';
import { GuestAgentMonitor, summarizeGuest } from './guestinfo.js';
import { standardAgent, startFakeAgent, type AgentHandler } from '../../test/fakes/guest-agent.js';

async function fakeAgent(path: string, handler: AgentHandler): Promise<{ server: { close: (cb: (v?: unknown) => void) => void }; received: string[] }> {
  const agent = await startFakeAgent(path, handler);
  return { received: agent.received, server: { close: (cb) => void agent.close().then(cb) } };
}

const standard: AgentHandler = (cmd, reply, socket) => {
  if (cmd.execute === 'guest-shutdown') socket.end();
  else standardAgent(cmd, reply, socket);
};

describe('guest agent client', () => {
  let dir: string;
  let path: string;
  let server: { close: (cb: (v?: unknown) => void) => void } | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qga-'));
    path = join(dir, 'qga.sock');
  });
  afterEach(async () => {
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('handshakes and reads hostname, OS and interfaces', async () => {
    ({ server } = await fakeAgent(path, standard));
    const agent = await connectGuestAgent(path, 1000);
    expect(await agent.hostname()).toBe('web-1');
    const info = summarizeGuest(await agent.hostname(), await agent.osInfo(), await agent.networkInterfaces());
    expect(info).toEqual({
      agentConnected: true,
      hostname: 'web-1',
      osName: 'Debian GNU/Linux',
      kernel: '6.1.0-28-cloud-amd64',
      interfaces: [{ name: 'eth0', macAddress: '52:54:00:12:34:56', ipAddresses: ['10.0.2.15'] }],
    });
    agent.close();
  });

  it('reports an unsupported command as AgentCommandFailed', async () => {
    ({ server } = await fakeAgent(path, standard));
    const agent = await connectGuestAgent(path, 1000);
    await expect(agent.execute('guest-fsfreeze-status')).rejects.toMatchObject({ reason: 'AgentCommandFailed' });
    agent.close();
  });

  it('fails the handshake with AgentTimeout when no agent answers', async () => {
    ({ server } = await fakeAgent(path, () => undefined));
    await expect(connectGuestAgent(path, 200)).rejects.toMatchObject({ reason: 'AgentTimeout' });
  });

  it('fails with AgentUnavailable when the socket is missing', async () => {
    await expect(connectGuestAgent(path, 200)).rejects.toBeInstanceOf(GuestAgentError);
    await expect(connectGuestAgent(path, 200)).rejects.toMatchObject({ reason: 'AgentUnavailable' });
  });

  it('drops a stale reply after a timeout by syncing again', async () => {
    let slow = true;
    ({ server } = await fakeAgent(path, (cmd, reply, socket) => {
      if (cmd.execute === 'guest-get-host-name' && slow) {
        slow = false;
        setTimeout(() => reply({ return: { 'host-name': 'stale' } }), 150);
        return;
      }
      standard(cmd, reply, socket);
    }));
    const agent = await connectGuestAgent(path, 1000);
    await expect(agent.execute('guest-get-host-name', undefined, 50)).rejects.toMatchObject({ reason: 'AgentTimeout' });
    await new Promise((r) => setTimeout(r, 200)); // the stale reply arrives now
    expect(await agent.hostname()).toBe('web-1');
    agent.close();
  });

  it('sends guest-shutdown without waiting for a reply', async () => {
    let received: string[];
    ({ server, received } = await fakeAgent(path, standard));
    const agent = await connectGuestAgent(path, 1000);
    await agent.shutdown();
    expect(received.at(-1)).toBe('guest-shutdown');
  });

  it('decodes split chunks and skips to the delimiter', () => {
    const decoder = new AgentStreamDecoder();
    decoder.expectDelimiter();
    expect(decoder.push(Buffer.from('{"return": 1}\n'))).toEqual([]);
    expect(decoder.push(Buffer.concat([Buffer.from([0xff]), Buffer.from('{"return": 2}\n{"ret')]))).toEqual([{ return: 2 }]);
    expect(decoder.push(Buffer.from('urn": "é"}\n'))).toEqual([{ return: 'é' }]);
  });
});

describe('GuestAgentMonitor', () => {
  it('reports not connected without an agent and connected details once it answers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qga-'));
    const path = join(dir, 'qga.sock');
    const monitor = new GuestAgentMonitor({ socketPath: path, pollIntervalMs: 50, refreshIntervalMs: 50, timeoutMs: 100 });
    monitor.start();
    await new Promise((r) => setTimeout(r, 120));
    expect(monitor.info).toEqual({ agentConnected: false });
    expect(monitor.client).toBeUndefined();
    const { server } = await fakeAgent(path, standard);
    for (let i = 0; i < 40 && !monitor.info.agentConnected; i++) await new Promise((r) => setTimeout(r, 25));
    expect(monitor.info).toMatchObject({ agentConnected: true, hostname: 'web-1', osName: 'Debian GNU/Linux' });
    expect(monitor.client).toBeInstanceOf(GuestAgentClient);
    await monitor.stop();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });
});
