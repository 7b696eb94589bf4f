import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LauncherCallError, LauncherClient } from './launcher-client.js';

const STATUS = { state: 'running', accelerator: 'tcg', disks: [{ name: 'data', phase: 'Detaching' }] };

/** A launcher whose DELETE /disks/<name> answers only after `deleteMs`. */
async function launcher(deleteMs: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const reply = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(STATUS));
    if (req.method === 'DELETE') setTimeout(reply, deleteMs);
    else reply();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('LauncherClient', () => {
  it('leaves a slow detach to finish in the launcher, and keeps reading its status', async () => {
    const { server, port } = await launcher(3000);
    try {
      const client = new LauncherClient({ timeoutMs: 1000, quietMs: 60_000, port });
      await expect(client.detach('127.0.0.1', 't', 'data')).resolves.toBeUndefined();
      await expect(client.status('127.0.0.1', 't')).resolves.toMatchObject({ state: 'running' });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('an unreachable launcher fails the call and is left alone for a while', async () => {
    const { server, port } = await launcher(0);
    server.close();
    const client = new LauncherClient({ timeoutMs: 1000, quietMs: 60_000, port });
    const err = await client.pause('127.0.0.1', 't').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LauncherCallError);
    expect(err).toMatchObject({ status: 0, timedOut: false });
    await expect(client.detach('127.0.0.1', 't', 'data')).rejects.toThrow(/unreachable/);
    await expect(client.status('127.0.0.1', 't')).resolves.toBeUndefined();
  });

  it('asks a launcher that is still starting again within a second or two, and a dead one ever less often', async () => {
    const { server, port } = await launcher(0);
    server.close();
    const client = new LauncherClient({ timeoutMs: 1000, quietMs: 8_000, port });
    await expect(client.status('127.0.0.1', 't')).resolves.toBeUndefined();
    expect(client.quietRemainingMs('127.0.0.1')).toBeGreaterThan(900);
    expect(client.quietRemainingMs('127.0.0.1')).toBeLessThanOrEqual(1000);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await client.pause('127.0.0.1', 't').catch(() => undefined); // calls other than status are always tried
      waits.push(Math.round(client.quietRemainingMs('127.0.0.1') / 1000));
    }
    expect(waits).toEqual([2, 4, 8, 8, 8]);
    const { server: up, port: upPort } = await launcher(0);
    try {
      const back = new LauncherClient({ timeoutMs: 1000, quietMs: 8_000, port: upPort });
      await back.status('127.0.0.1', 't');
      expect(back.quietRemainingMs('127.0.0.1')).toBe(0);
    } finally {
      up.close();
    }
  });
});
