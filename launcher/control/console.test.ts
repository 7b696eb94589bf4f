import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { testAuthority, testClient, writeLauncherCredentials, type ClientTls, type LauncherAuthority } from '../../harness/pki.js';
import { fakeSerialPort, type FakeSerialPort } from '../../test/fakes/serial-port.js';
import type { Caller } from '../../test/launcher/helpers/control.js';
import { openStream, upgradeRequest } from '../../test/launcher/helpers/stream.js';
import { READ_ONLY_NOTICE, SerialHub } from '../runtime/serial.js';
import { streamsOnlyVmm } from '../../test/fakes/streams-only-vmm.js';
import { startControlServer, type ControlServer } from './server.js';

const VM = { name: 'web', namespace: 'ns', uid: '0b9d2b55-1111-4c55-9f3e-1d2a3b4c5d6e' };

const vmm = streamsOnlyVmm;

const CONSOLE_REQUEST = upgradeRequest('/console', 'kubevmm-console');

/** A console client over the control API: the upgrade request, then raw bytes. */
async function openConsole(server: ControlServer, client: ClientTls | undefined, request = CONSOLE_REQUEST) {
  const caller: Caller = { ca: authority.ca.certPem, vmUid: VM.uid, ...(client ? { cert: client.cert, key: client.key } : {}) };
  const session = await openStream(server.url, caller, request);
  return { ...session, seen: () => session.received().toString() };
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

let authority: LauncherAuthority;
let subresources: ClientTls;

beforeAll(async () => {
  authority = await testAuthority();
  subresources = await testClient(authority, 'kubevmm-subresources');
});

describe('GET /console (upgrade)', () => {
  let dir: string;
  let port: FakeSerialPort;
  let hub: SerialHub | undefined;
  let server: ControlServer;
  const lines: string[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-'));
    port = await fakeSerialPort(join(dir, 'serial.sock'));
    hub = await SerialHub.start({ qemuSocket: join(dir, 'serial.sock'), consoleSocket: join(dir, 'console.sock'), logFile: join(dir, 'serial.log') });
    lines.length = 0;
    const files = await writeLauncherCredentials(authority, VM, join(dir, 'credentials'));
    server = await startControlServer({ vmm, port: 0, host: '127.0.0.1', tls: files, console: () => hub, log: (l) => lines.push(l) });
  });
  afterEach(async () => {
    await server.close();
    await port.exit();
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('attaches the first client to the serial console: it sees the boot and its keys reach the guest', async () => {
    await port.guestWrites('boot ok\r\nlogin: ');
    await until('history', () => hub!.recent().length > 0);
    const session = await openConsole(server, subresources);
    expect(session.status).toBe(101);
    expect(session.headers).toMatchObject({ upgrade: 'kubevmm-console', 'kubevmm-console-mode': 'interactive' });
    await until('the recent output', () => session.seen() === 'boot ok\r\nlogin: ');
    session.socket.write('root\r');
    await until('the guest got the keys', () => port.received() === 'root\r');
    await port.guestWrites('# ');
    await until('the echo', () => session.seen().endsWith('# '));
    expect(lines).toContain('control: console attached by kubevmm-subresources (interactive)');
    session.socket.end();
  });

  it('gives a second client a read-only mirror, told so, whose keys go nowhere (ADR 0011)', async () => {
    const first = await openConsole(server, subresources);
    const second = await openConsole(server, subresources);
    expect(second.headers['kubevmm-console-mode']).toBe('read-only');
    await until('the notice', () => second.seen().includes(READ_ONLY_NOTICE));
    second.socket.write('reboot\r');
    first.socket.write('ls\r');
    await until('the writer reached the guest', () => port.received().includes('ls\r'));
    await port.guestWrites('file\r\n');
    await until('both see the output', () => first.seen().includes('file') && second.seen().includes('file'));
    expect(port.received()).toBe('ls\r');
    first.socket.end();
    second.socket.end();
  });

  it('refuses a client without a certificate from the launcher CA, and nothing reaches the guest', async () => {
    const stranger = await testClient(await testAuthority('another-ca'));
    for (const client of [undefined, stranger]) {
      const session = await openConsole(server, client, 'GET /console HTTP/1.1\r\nconnection: Upgrade\r\nupgrade: kubevmm-console\r\n\r\nrm -rf /\r');
      expect(session.status).toBe(401);
      expect(JSON.parse(session.seen())).toMatchObject({ reason: expect.stringMatching(/^ClientCertificate/) });
    }
    await sleep(50);
    expect(port.received()).toBe('');
  });

  it('refuses other upgrades and paths with a reason', async () => {
    const wrongProtocol = await openConsole(server, subresources, 'GET /console HTTP/1.1\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n');
    expect(wrongProtocol.status).toBe(400);
    const otherStream = await openConsole(server, subresources, 'GET /vnc HTTP/1.1\r\nconnection: Upgrade\r\nupgrade: kubevmm-console\r\n\r\n');
    expect(otherStream.status).toBe(400);
    expect(JSON.parse(otherStream.seen())).toMatchObject({ reason: 'InvalidRequest', message: expect.stringMatching(/GET \/vnc upgrades to "kubevmm-vnc" only/) });
    const operator = await testClient(authority, 'kubevmm-operator');
    const elsewhere = await openConsole(server, operator, 'GET /status HTTP/1.1\r\nconnection: Upgrade\r\nupgrade: kubevmm-console\r\n\r\n');
    expect(elsewhere.status).toBe(404);
    const post = await openConsole(server, operator, 'POST /console HTTP/1.1\r\nconnection: Upgrade\r\nupgrade: kubevmm-console\r\ncontent-length: 0\r\n\r\n');
    expect(post.status).toBe(405);
    // The subresource server's certificate opens the streams and nothing else (ADR 0011).
    const notAllowed = await openConsole(server, subresources, 'POST /console HTTP/1.1\r\nconnection: Upgrade\r\nupgrade: kubevmm-console\r\ncontent-length: 0\r\n\r\n');
    expect(notAllowed.status).toBe(403);
    expect(JSON.parse(notAllowed.seen())).toMatchObject({ reason: 'ClientNotAllowed' });
  });

  it('answers 409 when QEMU is not running, before it starts and after it ended', async () => {
    const running = hub;
    hub = undefined;
    expect((await openConsole(server, subresources)).status).toBe(409);
    hub = running;
    await port.exit();
    await hub!.closed;
    const late = await openConsole(server, subresources);
    expect(late.status).toBe(409);
    expect(JSON.parse(late.seen())).toMatchObject({ reason: 'WrongState', message: expect.stringMatching(/no serial console/) });
  });
});
