import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectQmp } from './connect.js';
import { QmpConnectError, QmpTimeoutError } from './errors.js';
import { FakeQmpServer } from '../../test/fakes/qmp-server.js';

let dir: string;
let path: string;
const servers: FakeQmpServer[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-qmp-'));
  path = join(dir, 'qmp.sock');
});

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function startServer(options: { greeting?: boolean } = {}): Promise<FakeQmpServer> {
  const server = await FakeQmpServer.start({ path, ...options });
  servers.push(server);
  return server;
}

describe('connectQmp', () => {
  it('retries while the socket does not exist yet, then completes the handshake', async () => {
    const started = (async () => {
      await sleep(200);
      return startServer();
    })();
    const client = await connectQmp(path, { retryUntilMs: 3000, retryIntervalMs: 20 });
    const server = await started;
    expect(client.greeting?.version.qemu.major).toBe(7);
    expect(server.commands.map((c) => c.execute)).toEqual(['qmp_capabilities']);
    await client.close();
  });

  it('fails at once without retryUntilMs when the socket is missing', async () => {
    const error = await connectQmp(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QmpConnectError);
    expect(error).toMatchObject({ reason: 'QmpConnectFailed', path });
    expect((error as QmpConnectError).cause).toMatchObject({ code: 'ENOENT' });
  });

  it('gives up at the retry deadline', async () => {
    const began = Date.now();
    const error = await connectQmp(path, { retryUntilMs: 150, retryIntervalMs: 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QmpConnectError);
    expect(Date.now() - began).toBeGreaterThanOrEqual(100);
    expect(Date.now() - began).toBeLessThan(1000);
  });

  it('stops retrying when the signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('qemu exited with code 1')), 50);
    const error = await connectQmp(path, { retryUntilMs: 10_000, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QmpConnectError);
    expect((error as Error).message).toContain('qemu exited with code 1');
  });

  it('fails with a timeout cause when the server never greets, and hangs up', async () => {
    await startServer({ greeting: false });
    const error = await connectQmp(path, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QmpConnectError);
    expect((error as QmpConnectError).cause).toBeInstanceOf(QmpTimeoutError);
    expect((error as Error).message).toContain('handshake');
  });
});
