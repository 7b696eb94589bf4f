import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testAuthority, testClient, writeLauncherCredentials } from '../../harness/pki.js';
import type { ClientTls, LauncherAuthority } from '../pki/launcher.js';
import { LauncherCallError, LauncherClient, LauncherContractError, LauncherIdentityError } from './launcher-client.js';

const STATUS = { state: 'running', accelerator: 'tcg', startedAt: '2026-01-01T00:00:00Z', disks: [{ name: 'data', phase: 'Detaching' }] };
const UID = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';

let authority: LauncherAuthority;
let client: ClientTls;
let dir: string;

beforeAll(async () => {
  authority = await testAuthority();
  client = await testClient(authority);
  dir = await mkdtemp(join(tmpdir(), 'launcher-client-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A launcher for VM `uid` over mutual TLS, answering with `handler`. */
async function launcher(handler: (req: IncomingMessage, res: ServerResponse) => void, uid = UID, listenPort = 0): Promise<{ server: Server; port: number }> {
  const files = await writeLauncherCredentials(authority, { name: 'web', namespace: 'ns', uid }, join(dir, uid));
  const [cert, key, ca] = await Promise.all([files.certFile, files.keyFile, files.clientCaFile].map((f) => readFile(f)));
  const server = createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, handler);
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

const json = (res: ServerResponse, code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));

function stop(server: Server): void {
  server.closeAllConnections();
  server.close();
}

describe('LauncherClient', () => {
  const target = { ip: '127.0.0.1', vmUid: UID };
  const clientFor = (port: number) => new LauncherClient({ timeoutMs: 1000, quietMs: 60_000, port, tls: async () => client });

  it('leaves a slow detach to finish in the launcher, and keeps reading its status with the certificate expiry', async () => {
    const { server, port } = await launcher((req, res) => (req.method === 'DELETE' ? setTimeout(() => json(res, 200, STATUS), 3000) : json(res, 200, STATUS)));
    const c = clientFor(port);
    try {
      await expect(c.detach(target, 'data')).resolves.toBeUndefined();
      const seen = await c.status(target);
      expect(seen?.status).toMatchObject({ state: 'running', disks: [{ name: 'data', phase: 'Detaching' }] });
      expect(seen?.certificateNotAfter?.getTime()).toBeGreaterThan(Date.now() + 300 * 24 * 3600_000);
    } finally {
      c.close();
      stop(server);
    }
  });

  it('an unreachable launcher fails the call and is left alone for a while', async () => {
    const { server, port } = await launcher((_req, res) => json(res, 200, STATUS));
    stop(server);
    const c = clientFor(port);
    const err = await c.pause(target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LauncherCallError);
    expect(err).toMatchObject({ status: 0, timedOut: false });
    await expect(c.detach(target, 'data')).rejects.toThrow(/unreachable/);
    await expect(c.status(target)).resolves.toBeUndefined();
  });

  it('asks a launcher that is just starting again at once (eager), where a plain caller is left quiet', async () => {
    const closed = await launcher((_req, res) => json(res, 200, STATUS));
    stop(closed.server);
    const [eager, plain] = [clientFor(closed.port), clientFor(closed.port)];
    await expect(eager.status(target, { eager: true })).resolves.toBeUndefined();
    await expect(plain.status(target)).resolves.toBeUndefined();
    const { server } = await launcher((_req, res) => json(res, 200, STATUS), UID, closed.port);
    try {
      expect((await eager.status(target, { eager: true }))?.status.state).toBe('running');
      await expect(plain.status(target)).resolves.toBeUndefined(); // still in its quiet second
    } finally {
      eager.close();
      plain.close();
      stop(server);
    }
  });

  it('an answer off the contract is a LauncherContractError naming the field, not a crash', async () => {
    const { server, port } = await launcher((_req, res) => json(res, 200, { ...STATUS, state: 'dancing', disks: [{ name: 'data', phase: 'Lost' }] }));
    const c = clientFor(port);
    try {
      const err = (await c.status(target).catch((e: unknown) => e)) as LauncherContractError;
      expect(err).toBeInstanceOf(LauncherContractError);
      expect(err.reason).toBe('LauncherContractMismatch');
      expect(err.message).toMatch(/GET \/status .*does not match the control API contract.*state: .*disks\.0\.phase: /);
      // Then it is left alone for a while, like an unreachable one.
      await expect(c.status(target)).resolves.toBeUndefined();
      await expect(c.pause(target)).rejects.toThrow(LauncherContractError);
    } finally {
      c.close();
      stop(server);
    }
  });

  it('an error answer keeps its status and reason', async () => {
    const { server, port } = await launcher((_req, res) => json(res, 409, { reason: 'WrongState', message: 'cannot pause while the vm is stopping' }));
    const c = clientFor(port);
    try {
      await expect(c.pause(target)).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/409 WrongState: cannot pause/) });
    } finally {
      c.close();
      stop(server);
    }
  });

  it('refuses a launcher whose certificate is for another VM', async () => {
    const { server, port } = await launcher((_req, res) => json(res, 200, STATUS), 'c0ffee00-0000-4000-8000-000000000000');
    const c = clientFor(port);
    try {
      await expect(c.pause(target)).rejects.toThrow(LauncherIdentityError);
      await expect(c.status(target)).resolves.toBeUndefined(); // quiet for a while after the first refusal
      const fresh = clientFor(port);
      const err = (await fresh.status(target).catch((e: unknown) => e)) as Error;
      fresh.close();
      expect(err).toBeInstanceOf(LauncherIdentityError);
      expect(err.message).toMatch(new RegExp(`not the launcher of VM ${UID}: .*altnames`, 'i'));
    } finally {
      c.close();
      stop(server);
    }
  });

  it('asks a launcher that is still starting again within a second or two, and a dead one ever less often', async () => {
    const { server, port } = await launcher((_req, res) => json(res, 200, STATUS));
    stop(server);
    const quick = new LauncherClient({ timeoutMs: 1000, quietMs: 8_000, port, tls: async () => client });
    await expect(quick.status(target)).resolves.toBeUndefined();
    expect(quick.quietRemainingMs(target.ip)).toBeGreaterThan(900);
    expect(quick.quietRemainingMs(target.ip)).toBeLessThanOrEqual(1000);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await quick.pause(target).catch(() => undefined); // calls other than status are always tried
      waits.push(Math.round(quick.quietRemainingMs(target.ip) / 1000));
    }
    expect(waits).toEqual([2, 4, 8, 8, 8]);
    quick.close();
    const up = await launcher((_req, res) => json(res, 200, STATUS));
    const back = new LauncherClient({ timeoutMs: 1000, quietMs: 8_000, port: up.port, tls: async () => client });
    try {
      await back.pause(target).catch(() => undefined);
      expect(back.quietRemainingMs(target.ip)).toBe(0);
    } finally {
      back.close();
      stop(up.server);
    }
  });
});
