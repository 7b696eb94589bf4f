import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { launcherServerName } from '../../api/layout.js';
import { testAuthority, testClient, writeLauncherCredentials, type ClientTls, type LauncherAuthority } from '../../harness/pki.js';
import type { Caller } from '../../test/launcher/helpers/control.js';
import { openStream, upgradeRequest } from '../../test/launcher/helpers/stream.js';
import { LauncherError } from '../runtime/errors.js';
import { streamsOnlyVmm } from '../../test/fakes/streams-only-vmm.js';
import { startControlServer, type ControlServer } from './server.js';
import { portForwardPort } from './streams.js';

describe('portForwardPort (GET /portforward query)', () => {
  it.each([
    ['port=22', 22],
    ['port=65535', 65535],
    ['port=1', 1],
  ])('%s -> %d', (query, port) => {
    expect(portForwardPort(new URLSearchParams(query))).toBe(port);
  });

  // What a hostile user could put in the query the subresource server passes on. Each is
  // refused naming the field; none becomes anything but a checked integer.
  it.each([
    ['no port', '', /query\.?|port/],
    ['port 0', 'port=0', /port: port must be 1-65535/],
    ['a port above 65535', 'port=65536', /port: port must be 1-65535/],
    ['a fraction', 'port=22.5', /port: /],
    ['a word', 'port=ssh', /port: /],
    ['a second monitor command', 'port=22%3B%20quit', /port: /],
    ['a second hostfwd argument', 'port=22%20tcp%3A0.0.0.0%3A2222-%3A22', /port: /],
    ['a newline', 'port=22%0Aquit', /port: /],
    ['a repeated port', 'port=22&port=23', /port: /],
    ['another field', 'port=22&host=10.0.2.2', /host/],
  ])('refuses %s with 400 InvalidRequest naming the field', (_what, query, message) => {
    let error: unknown;
    try {
      portForwardPort(new URLSearchParams(query));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LauncherError);
    expect(error).toMatchObject({ reason: 'InvalidRequest', kind: 'invalid', message: expect.stringMatching(/^GET \/portforward: /) });
    expect((error as Error).message).toMatch(message);
  });

  it('only ever yields an integer port, whatever numeric spelling was sent', () => {
    for (const spelling of ['22', ' 22', '0x16', '2.2e1', '+22']) {
      const port = portForwardPort(new URLSearchParams({ port: spelling }));
      expect(port).toBe(22);
      expect(Number.isInteger(port)).toBe(true);
    }
  });
});

const VM = { name: 'web', namespace: 'ns', uid: '7a1f8f0e-3b7a-4c55-9f3e-1d2a3b4c5d6e' };
const RFB_GREETING = 'RFB 003.008\n';

const vmm = streamsOnlyVmm;

/** Stands in for the PortForwarder: a local echo server plays the guest port. */
class FakeForwarder {
  asked: number[] = [];
  signals: AbortSignal[] = [];
  /** What open does next: connect to the echo server, throw, or wait for `release`. */
  next: 'connect' | Error | 'hold' = 'connect';
  release = (): void => undefined;
  readonly guestSockets: net.Socket[] = [];

  constructor(private readonly echoPort: number) {}

  async open(port: number, signal?: AbortSignal): Promise<net.Socket> {
    this.asked.push(port);
    if (signal) this.signals.push(signal);
    if (this.next instanceof Error) throw this.next;
    if (this.next === 'hold') await new Promise<void>((resolve) => (this.release = resolve));
    const socket = net.connect({ host: '127.0.0.1', port: this.echoPort });
    await new Promise((resolve) => socket.once('connect', resolve));
    return socket;
  }
}

let authority: LauncherAuthority;
let subresources: ClientTls;

beforeAll(async () => {
  authority = await testAuthority();
  subresources = await testClient(authority, 'kubevmm-subresources');
});

describe('GET /vnc and GET /portforward (upgrades)', () => {
  let dir: string;
  let server: ControlServer;
  let display: net.Server;
  let echo: net.Server;
  let guestEnds: net.Socket[];
  let displayEnds: net.Socket[];
  let forwarder: FakeForwarder;
  let vncSocket: string | undefined;
  let running: boolean;
  const lines: string[] = [];
  /** As the subresource server by default; `null`: no client certificate. */
  const open = (path: string, upgrade: string, client: ClientTls | null = subresources) => {
    const caller: Caller = { ca: authority.ca.certPem, vmUid: VM.uid, ...(client ? { cert: client.cert, key: client.key } : {}) };
    return openStream(server.url, caller, upgradeRequest(path, upgrade));
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streams-'));
    lines.length = 0;
    // QEMU's VNC server as far as a proxy can tell: the greeting, then whatever the viewer says back.
    displayEnds = [];
    display = net.createServer((s) => {
      displayEnds.push(s);
      s.write(RFB_GREETING);
      s.pipe(s);
    });
    vncSocket = join(dir, 'vnc.sock');
    await new Promise<void>((resolve) => display.listen(vncSocket, resolve));
    guestEnds = [];
    echo = net.createServer((s) => {
      guestEnds.push(s);
      s.pipe(s);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    forwarder = new FakeForwarder((echo.address() as net.AddressInfo).port);
    running = true;
    const files = await writeLauncherCredentials(authority, VM, join(dir, 'credentials'));
    server = await startControlServer({
      vmm,
      port: 0,
      host: '127.0.0.1',
      tls: files,
      vnc: { get socket() { return vncSocket; }, running: () => running },
      portForward: forwarder,
      log: (l) => lines.push(l),
    });
  });
  afterEach(async () => {
    await server.close();
    for (const s of [...guestEnds, ...displayEnds]) s.destroy();
    await new Promise((resolve) => echo.close(resolve));
    display.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('hands a VNC viewer QEMU\'s RFB stream byte for byte, several viewers at once', async () => {
    const [a, b] = await Promise.all([open('/vnc', 'kubevmm-vnc'), open('/vnc', 'kubevmm-vnc')]);
    for (const viewer of [a, b]) {
      expect(viewer.status).toBe(101);
      expect(viewer.headers).toMatchObject({ connection: 'Upgrade', upgrade: 'kubevmm-vnc' });
      await viewer.waitFor('the RFB greeting', (r) => r.toString() === RFB_GREETING);
    }
    a.socket.write(Buffer.from([0x01, 0x00, 0xff]));
    await a.waitFor('the echo', (r) => r.subarray(RFB_GREETING.length).equals(Buffer.from([0x01, 0x00, 0xff])));
    expect(lines.filter((l) => l === 'control: vnc attached by kubevmm-subresources')).toHaveLength(2);
    a.socket.end();
    b.socket.end();
  });

  it('refuses VNC on a VM without a display with 409 NoDisplay naming spec.devices.graphics', async () => {
    vncSocket = undefined;
    const refused = await open('/vnc', 'kubevmm-vnc');
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({ reason: 'NoDisplay', message: expect.stringMatching(/set spec\.devices\.graphics: vnc/) });
  });

  it('refuses VNC with 409 WrongState while QEMU is not running', async () => {
    running = false;
    const refused = await open('/vnc', 'kubevmm-vnc');
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ reason: 'WrongState', message: expect.stringMatching(/QEMU is not running/) });
  });

  it('ends the viewer\'s connection when QEMU closes the display', async () => {
    const viewer = await open('/vnc', 'kubevmm-vnc');
    await viewer.waitFor('the greeting', (r) => r.length === RFB_GREETING.length);
    displayEnds[0]!.unpipe();
    displayEnds[0]!.end();
    await viewer.closed;
    await until(() => lines.includes('control: vnc detached by kubevmm-subresources'));
  });

  it('opens a guest port and answers 101 only once the guest connection is made', async () => {
    forwarder.next = 'hold';
    let answered = false;
    const pending = open('/portforward?port=7000', 'kubevmm-portforward').finally(() => (answered = true));
    await until(() => forwarder.asked.length === 1);
    await sleep(100);
    expect(answered).toBe(false);
    forwarder.release();
    const session = await pending;
    expect(session.status).toBe(101);
    expect(session.headers).toMatchObject({ upgrade: 'kubevmm-portforward' });
    expect(forwarder.asked).toEqual([7000]);
    session.socket.write('hello guest');
    await session.waitFor('the echo', (r) => r.toString() === 'hello guest');
    expect(lines).toContain('control: portforward attached by kubevmm-subresources (guest port 7000)');
    session.socket.end();
  });

  it('ends the session when the guest closes the connection, after its last bytes', async () => {
    const session = await open('/portforward?port=22', 'kubevmm-portforward');
    await until(() => guestEnds.length === 1);
    guestEnds[0]!.unpipe();
    guestEnds[0]!.end('bye');
    await session.closed;
    expect(session.received().toString()).toBe('bye');
  });

  it('closes the guest connection when the client goes away', async () => {
    const session = await open('/portforward?port=22', 'kubevmm-portforward');
    await until(() => guestEnds.length === 1);
    const guestClosed = new Promise((resolve) => guestEnds[0]!.once('close', resolve));
    session.socket.destroy();
    await guestClosed;
  });

  it('tells the forwarder when the client gives up before the guest answered', async () => {
    forwarder.next = 'hold';
    const client = connect({ host: '127.0.0.1', port: server.port, ca: authority.ca.certPem, servername: launcherServerName(VM.uid), cert: subresources.cert, key: subresources.key });
    await new Promise((resolve) => client.once('secureConnect', resolve));
    client.write(upgradeRequest('/portforward?port=22', 'kubevmm-portforward'));
    await until(() => forwarder.signals.length === 1);
    expect(forwarder.signals[0]!.aborted).toBe(false);
    client.destroy();
    await until(() => forwarder.signals[0]!.aborted);
  });

  it.each([
    ['port=0', /port must be 1-65535/],
    ['port=22%3Bquit', /port: /],
    ['port=22&port=23', /port: /],
    ['', /port/],
  ])('refuses the query %j with 400 and never asks for a forward', async (query, message) => {
    const refused = await open(`/portforward?${query}`, 'kubevmm-portforward');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ reason: 'InvalidRequest', message: expect.stringMatching(message) });
    expect(forwarder.asked).toEqual([]);
  });

  it.each([
    ['NoNetwork', new LauncherError({ reason: 'NoNetwork', kind: 'conflict', message: 'add one to spec.interfaces' }), 409],
    ['GuestPortClosed', new LauncherError({ reason: 'GuestPortClosed', kind: 'unreachable', message: 'nothing accepts connections on guest port 22' }), 502],
    ['GuestPortTimeout', new LauncherError({ reason: 'GuestPortTimeout', kind: 'timeout', message: 'guest port 22 did not answer' }), 504],
  ])('answers the forwarder\'s %s with its status', async (_reason, error, status) => {
    forwarder.next = error;
    const refused = await open('/portforward?port=22', 'kubevmm-portforward');
    expect(refused.status).toBe(status);
    expect(await refused.json()).toEqual({ reason: error.reason, message: error.message });
  });

  it('refuses both streams to a client without a certificate from the launcher CA', async () => {
    const stranger = await testClient(await testAuthority('another-ca'));
    for (const client of [null, stranger]) {
      for (const [path, upgrade] of [['/vnc', 'kubevmm-vnc'], ['/portforward?port=22', 'kubevmm-portforward']] as const) {
        const refused = await open(path, upgrade, client);
        expect(refused.status).toBe(401);
        expect(await refused.json()).toMatchObject({ reason: expect.stringMatching(/^ClientCertificate/) });
      }
    }
    expect(forwarder.asked).toEqual([]);
  });
});

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}
