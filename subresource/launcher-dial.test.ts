import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { testAuthority, testClient, writeLauncherCredentials, type ClientTls, type LauncherAuthority } from '../harness/pki.js';
import { startStreamLauncher, type StreamLauncher } from '../harness/stream-launcher.js';
import { PORT_FORWARD_CONNECT_TIMEOUT_MS } from '../api/contract/control.js';
import { dialTimeoutMs, LauncherDialer, type LauncherTls } from './launcher-dial.js';
import { launcherFailureStatus, LauncherClientNotReadyError, LauncherContractError, LauncherIdentityError, LauncherRefusedError, LauncherUnreachableError } from './launcher-errors.js';

const VM = { name: 'web', namespace: 'ns', uid: '2f1c7a44-7d0e-4a53-9c61-5b0f6e1d9a11' };
const OTHER_VM = { name: 'db', namespace: 'ns', uid: '9a8b7c6d-0000-4a53-9c61-5b0f6e1d9a11' };

let authority: LauncherAuthority;
let client: ClientTls;
let dir: string;
let launcher: StreamLauncher;
let tls: LauncherTls;

async function credentials(vm: typeof VM) {
  const files = await writeLauncherCredentials(authority, vm, join(dir, vm.name));
  const [cert, key, clientCa] = await Promise.all([files.certFile, files.keyFile, files.clientCaFile].map((f) => readFile(f, 'utf8')));
  return { cert: cert!, key: key!, clientCa: clientCa! };
}

function readUntil(socket: Duplex, want: string, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(want)}; saw ${JSON.stringify(seen)}`)), ms);
    socket.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(want)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
    socket.resume();
  });
}

beforeAll(async () => {
  authority = await testAuthority();
  client = await testClient(authority, 'kubevmm-subresources');
  tls = { ca: client.ca, cert: client.cert, key: client.key };
  dir = await mkdtemp(join(tmpdir(), 'launcher-dial-'));
  launcher = await startStreamLauncher({ tls: await credentials(VM), host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await launcher.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  launcher.refuse.clear();
  launcher.greeting = '';
});

const dialer = (material: LauncherTls = tls) => new LauncherDialer({ tls: () => material, port: launcher.port, timeoutMs: 2000 });
const target = { ip: '127.0.0.1', vmUid: VM.uid };

describe('LauncherDialer.open', () => {
  it('upgrades to the stream with its client certificate, passes the console mode and the bytes that came with the 101', async () => {
    launcher.consoleMode = 'read-only';
    launcher.greeting = 'login: ';
    const stream = await dialer().open(target, { subresource: 'console' });
    expect(stream.consoleMode).toBe('read-only');
    expect(stream.socket.isPaused()).toBe(true); // nothing flows before the client is attached
    if (stream.head.length) stream.socket.unshift(stream.head);
    const first = readUntil(stream.socket, 'login: ');
    await expect(first).resolves.toBe('login: ');
    const echoed = readUntil(stream.socket, 'root\r');
    stream.socket.write('root\r');
    await expect(echoed).resolves.toContain('root\r');
    stream.socket.destroy();
    expect(launcher.calls.at(-1)).toEqual({ path: '/console', client: 'kubevmm-subresources' });
  });

  it('asks for the guest port on portforward, and has no console mode on other streams', async () => {
    const stream = await dialer().open(target, { subresource: 'portforward', port: 22 });
    expect(stream.consoleMode).toBeUndefined();
    expect(launcher.calls.at(-1)?.path).toBe('/portforward?port=22');
    stream.socket.destroy();
  });

  it("turns the launcher's refusal into a Status with its message and a code the client can act on", async () => {
    launcher.refuse.set('/vnc', { status: 409, reason: 'NoDisplay', message: 'the VM has no VNC display' });
    const err = await dialer().open(target, { subresource: 'vnc' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LauncherRefusedError);
    expect(launcherFailureStatus(err, { namespace: 'ns', name: 'web', subresource: 'vnc' })).toMatchObject({ code: 409, reason: 'Conflict', message: 'VM ns/web: the VM has no VNC display (NoDisplay)' });
  });

  it('refuses a server that presents another VM\'s launcher certificate', async () => {
    const err = await dialer().open({ ip: '127.0.0.1', vmUid: OTHER_VM.uid }, { subresource: 'console' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LauncherIdentityError);
    expect(launcherFailureStatus(err, { namespace: 'ns', name: 'db', subresource: 'console' })).toMatchObject({ code: 500, message: expect.stringMatching(/did not present that VM's launcher certificate/) });
  });

  it('reports a launcher nobody answers for as unavailable, and one that hangs as timed out', async () => {
    const closed: Server = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const nobody = await new LauncherDialer({ tls: () => tls, port }).open(target, { subresource: 'console' }).catch((e: unknown) => e);
    expect(nobody).toBeInstanceOf(LauncherUnreachableError);
    expect(launcherFailureStatus(nobody, { namespace: 'ns', name: 'web', subresource: 'console' })).toMatchObject({ code: 503, message: expect.stringMatching(/NetworkPolicy/) });

    const silent: Server = createServer(() => undefined); // takes the connection, never answers the handshake
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const hung = await new LauncherDialer({ tls: () => tls, port: (silent.address() as { port: number }).port, timeoutMs: 300 }).open(target, { subresource: 'console' }).catch((e: unknown) => e);
    silent.close();
    expect(hung).toMatchObject({ timedOut: true, message: expect.stringMatching(/did not answer in time/) });
  });

  it('says the client certificate is missing instead of dialling without one', () => {
    const none = new LauncherDialer({ tls: () => undefined, port: launcher.port });
    expect(() => none.open(target, { subresource: 'console' })).toThrow(LauncherClientNotReadyError);
  });
});

describe('LauncherDialer.vmMetrics', () => {
  it('returns the parsed report', async () => {
    const d = dialer();
    await expect(d.vmMetrics(target)).resolves.toEqual(launcher.metrics);
    d.close();
  });

  it('names a report that breaks the contract, and passes a refusal on', async () => {
    const d = dialer();
    const good = launcher.metrics;
    launcher.metrics = { ...good, state: 'exploded' as never };
    await expect(d.vmMetrics(target)).rejects.toThrow(LauncherContractError);
    await expect(d.vmMetrics(target)).rejects.toThrow(/state/);
    launcher.metrics = good;
    launcher.refuse.set('/vm-metrics', { status: 409, reason: 'WrongState', message: 'QEMU is not running' });
    const err = await d.vmMetrics(target).catch((e: unknown) => e);
    expect(launcherFailureStatus(err, { namespace: 'ns', name: 'web', subresource: 'metrics' })).toMatchObject({ code: 409, message: 'VM ns/web: QEMU is not running (WrongState)' });
    d.close();
  });
});

describe('dialTimeoutMs', () => {
  it("waits for a portforward clearly longer than the launcher waits for the guest, so its 504 arrives", () => {
    expect(dialTimeoutMs({ subresource: 'portforward', port: 22 }, {})).toBeGreaterThanOrEqual(PORT_FORWARD_CONNECT_TIMEOUT_MS + 5_000);
    expect(dialTimeoutMs({ subresource: 'console' }, {})).toBe(10_000);
    expect(dialTimeoutMs({ subresource: 'portforward', port: 22 }, { timeoutMs: 300, portForwardTimeoutMs: 900 })).toBe(900);
  });
});
