// The control API's streams and /vm-metrics against real QEMU (TCG) and the fixture guest, as
// the subresource server uses them (ADR 0011): GET /vnc gives QEMU's RFB server to every viewer
// at once; GET /portforward reaches guest ports the spec does not list, two sessions at a time,
// and leaves no forward in QEMU; a VM without VNC or network refuses naming the fix. The
// launcher is wired as `launcher run` wires it (controlSources), with QEMU's monitor at hand to
// read `info usernet`.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vmMetricsReport } from '../../api/contract/control.js';
import type { LauncherVm } from '../../api/resolve.js';
import { controlSources } from '../../launcher/control-sources.js';
import { startControlServer, type ControlServer } from '../../launcher/control/index.js';
import { launchVm } from '../../launcher/runtime/launch.js';
import { parseUsernet, type UsernetSocket } from '../../launcher/runtime/hostfwd.js';
import { freePort } from '../../launcher/runtime/ports.js';
import type { VmSupervisor } from '../../launcher/runtime/vmm.js';
import { buildGuest, requireQemu } from '../../harness/guest.js';
import { control, controlCredentials, type Caller, type ControlCredentials } from './helpers/control.js';
import { SerialLog } from './helpers/serial.js';
import { openStream, upgradeRequest, type StreamSession } from './helpers/stream.js';
import { GUEST_ROOT_DISK, smallSpec, testVm } from './helpers/vm.js';

const BUILD_TIMEOUT_MS = 20 * 60_000;
/** Boot to `ready` takes ~12 s under TCG on two cores; leave room for a loaded CI machine. */
const BOOT_MS = 90_000;

/** One launcher: QEMU under its supervisor, and the control API over it. */
interface Launcher {
  vm: LauncherVm;
  vmm: VmSupervisor;
  server: ControlServer;
  serial: SerialLog;
  log: string[];
}

async function startVm(vm: LauncherVm, root: string, hostPorts?: Record<string, number>): Promise<Launcher> {
  const log: string[] = [];
  const vmm = await launchVm({ vm, accel: 'tcg', runtimeDir: await mkdtemp(join(work, 'run-')), disks: { root }, ...(hostPorts ? { hostPorts } : {}), log: (l) => log.push(l) });
  const server = await startControlServer({ vmm, ...controlSources(vmm, vm, (l) => log.push(l)), port: 0, host: '127.0.0.1', tls: creds.tls, log: (l) => log.push(l) });
  return { vm, vmm, server, serial: new SerialLog(vmm.serialLog), log };
}

async function stopVm(launcher: Launcher | undefined): Promise<void> {
  if (!launcher) return;
  await launcher.server.close();
  await launcher.vmm.stop({ reason: 'TestCleanup', message: 'test cleanup' });
}

/** QEMU's user-mode network table, read over the launcher's own monitor connection. */
async function usernet(launcher: Launcher): Promise<UsernetSocket[]> {
  return parseUsernet(await launcher.vmm.monitor!.execute<string>('human-monitor-command', { 'command-line': 'info usernet' }));
}

const loopbackRules = (sockets: UsernetSocket[]) => sockets.filter((s) => s.state === 'HOST_FORWARD' && s.sourceAddress === '127.0.0.1');

/** Reads exactly `n` more bytes of the stream after `offset`. */
async function take(session: StreamSession, offset: number, n: number, what: string): Promise<Buffer> {
  const received = await session.waitFor(what, (r) => r.length >= offset + n, 15_000);
  return received.subarray(offset, offset + n);
}

/** An RFB 3.8 viewer through the stream up to ServerInit (RFC 6143 7.1-7.3): greeting, security None, ClientInit. */
async function rfbHandshake(session: StreamSession, shared: boolean): Promise<{ greeting: string; securityTypes: number[]; width: number; height: number; name: string; read: number }> {
  const greeting = (await take(session, 0, 12, 'the RFB greeting')).toString('latin1');
  session.socket.write('RFB 003.008\n');
  const count = (await take(session, 12, 1, 'the security types'))[0]!;
  const securityTypes = [...(await take(session, 13, count, 'the security types'))];
  session.socket.write(Buffer.from([1])); // None
  const result = (await take(session, 13 + count, 4, 'the SecurityResult')).readUInt32BE(0);
  expect(result).toBe(0);
  session.socket.write(Buffer.from([shared ? 1 : 0]));
  const init = await take(session, 17 + count, 24, 'ServerInit');
  const nameLength = init.readUInt32BE(20);
  const name = (await take(session, 41 + count, nameLength, 'the desktop name')).toString('utf8');
  return { greeting, securityTypes, width: init.readUInt16BE(0), height: init.readUInt16BE(2), name, read: 41 + count + nameLength };
}

/** A FramebufferUpdateRequest for the whole screen; QEMU answers with a FramebufferUpdate (type 0). */
function requestUpdate(session: StreamSession, width: number, height: number): void {
  const message = Buffer.alloc(10);
  message.writeUInt8(3, 0);
  message.writeUInt16BE(width, 6);
  message.writeUInt16BE(height, 8);
  session.socket.write(message);
}

let work: string;
let creds: ControlCredentials;
let subresources: Caller;
let display: Launcher | undefined;
let bare: Launcher | undefined;

beforeAll(async () => {
  await requireQemu();
  const guestImage = await buildGuest();
  work = await mkdtemp(join(tmpdir(), 'kubevmm-streams-'));
  creds = await controlCredentials(join(work, 'credentials'), { name: 'streams', namespace: 'test' });
  subresources = creds.subresources;
  // A VM with a display and one interface whose spec lists port 22 only; sessions go to 7000 and 8080.
  const spec = smallSpec({
    devices: { graphics: 'vnc', balloon: false, rng: false, guestAgent: false },
    interfaces: [{ name: 'default', ports: [{ port: 22 }] }],
    disks: [GUEST_ROOT_DISK],
  });
  display = await startVm(testVm('streams', spec), guestImage, { 'TCP/22': await freePort() });
  // No display, no interface; held paused: it never needs to boot.
  bare = await startVm(testVm('bare', smallSpec({ paused: true, disks: [GUEST_ROOT_DISK] })), guestImage);
  await Promise.all([display.vmm.started, bare.vmm.started]);
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all([stopVm(display), stopVm(bare)]);
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe('GET /vnc', () => {
  it('gives a viewer QEMU\'s RFB server: greeting, security None, ServerInit with the framebuffer size', async () => {
    const viewer = await openStream(display!.server.url, subresources, upgradeRequest('/vnc', 'kubevmm-vnc'));
    expect(viewer.status).toBe(101);
    expect(viewer.headers).toMatchObject({ upgrade: 'kubevmm-vnc' });
    const init = await rfbHandshake(viewer, true);
    expect(init.greeting).toBe('RFB 003.008\n');
    expect(init.securityTypes).toContain(1);
    expect(init.width).toBeGreaterThan(0);
    expect(init.height).toBeGreaterThan(0);
    expect(init.name).toBe('QEMU (test_streams)'); // QEMU's -name: the VM's namespace and name
    viewer.socket.end();
  });

  it('keeps every viewer connected, also when a later one asks for exclusive access', async () => {
    const first = await openStream(display!.server.url, subresources, upgradeRequest('/vnc', 'kubevmm-vnc'));
    const firstInit = await rfbHandshake(first, true);
    const second = await openStream(display!.server.url, subresources, upgradeRequest('/vnc', 'kubevmm-vnc'));
    const secondInit = await rfbHandshake(second, false); // exclusive, as TigerVNC asks by default
    expect(secondInit.width).toBe(firstInit.width);
    // The first viewer still gets frames: QEMU did not drop it for the exclusive one.
    requestUpdate(first, firstInit.width, firstInit.height);
    expect((await take(first, firstInit.read, 1, 'a FramebufferUpdate'))[0]).toBe(0);
    requestUpdate(second, secondInit.width, secondInit.height);
    expect((await take(second, secondInit.read, 1, 'a FramebufferUpdate'))[0]).toBe(0);
    expect(display!.log.filter((l) => l === 'control: vnc attached by kubevmm-subresources').length).toBeGreaterThanOrEqual(2);
    first.socket.end();
    second.socket.end();
  });

  it('refuses a VM without VNC with 409 NoDisplay naming spec.devices.graphics: vnc', async () => {
    const refused = await openStream(bare!.server.url, subresources, upgradeRequest('/vnc', 'kubevmm-vnc'));
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({ reason: 'NoDisplay', message: expect.stringMatching(/set spec\.devices\.graphics: vnc/) });
  });
});

describe('GET /portforward', () => {
  beforeAll(async () => {
    await display!.serial.waitFor(/KUBEVMM-GUEST net ip=10\.0\.2\.15/, BOOT_MS);
    await display!.serial.waitFor(/Press Enter for a shell\./, BOOT_MS);
    // Start two servers in the guest through the console stream: an echo server on 7000 and
    // busybox httpd on 8080, neither listed in spec.interfaces.
    const console = await openStream(display!.server.url, subresources, upgradeRequest('/console', 'kubevmm-console'));
    expect(console.headers['kubevmm-console-mode']).toBe('interactive');
    console.socket.write('\r');
    await display!.serial.waitFor(/kubevmm-guest# /, 30_000);
    console.socket.write('mkdir -p /www; echo kubevmm-www > /www/index.html; httpd -p 8080 -h /www; nc -ll -p 7000 -e cat &\r');
    console.socket.write('echo LISTENING-$((6*7))\r');
    await display!.serial.waitFor(/LISTENING-42/, 30_000);
    console.socket.end();
  }, BOOT_MS * 2);

  it('reaches guest ports the spec does not list, two sessions at once, and leaves no forward in QEMU', async () => {
    const open = (port: number) => openStream(display!.server.url, subresources, upgradeRequest(`/portforward?port=${port}`, 'kubevmm-portforward'));
    const [echo, web] = await Promise.all([open(7000), open(8080)]);
    expect([echo.status, web.status]).toEqual([101, 101]);
    expect(echo.headers).toMatchObject({ upgrade: 'kubevmm-portforward' });
    // Both sessions are connections in slirp; no loopback forward is left once they are.
    const during = await usernet(display!);
    expect(during.filter((s) => s.state === 'ESTABLISHED' && s.sourceAddress === '127.0.0.1').map((s) => s.destinationPort).sort()).toEqual([7000, 8080]);
    expect(loopbackRules(during)).toEqual([]);
    echo.socket.write('ping through the launcher\n');
    web.socket.write('GET /index.html HTTP/1.0\r\n\r\n');
    await echo.waitFor('the echo', (r) => r.toString() === 'ping through the launcher\n', 15_000);
    await web.waitFor('the page', (r) => r.toString().includes('kubevmm-www'), 15_000);
    expect(web.received().toString()).toMatch(/^HTTP\/1\.[01] 200 OK/);
    // httpd closes after its answer: the session ends with it, the other one goes on.
    await web.closed;
    echo.socket.write('still here\n');
    await echo.waitFor('the second echo', (r) => r.toString().endsWith('still here\n'), 15_000);
    echo.socket.end();
    await echo.closed;
    const after = await usernet(display!);
    expect(loopbackRules(after)).toEqual([]);
    expect(after.filter((s) => s.state === 'ESTABLISHED' && s.sourceAddress === '127.0.0.1')).toEqual([]);
    // The spec's own forward (port 22 on all addresses) is untouched.
    expect(after.filter((s) => s.state === 'HOST_FORWARD').map((s) => s.destinationPort)).toEqual([22]);
    expect(display!.log).toContain('control: portforward attached by kubevmm-subresources (guest port 7000)');
  });

  it('answers 502 GuestPortClosed for a guest port nothing listens on, and leaves no forward', async () => {
    const refused = await openStream(display!.server.url, subresources, upgradeRequest('/portforward?port=7001', 'kubevmm-portforward'));
    expect(refused.status).toBe(502);
    expect(await refused.json()).toMatchObject({ reason: 'GuestPortClosed', message: expect.stringMatching(/guest port 7001/) });
    expect(loopbackRules(await usernet(display!))).toEqual([]);
  });

  it('refuses a port that is not one with 400 naming the field, before QEMU sees anything', async () => {
    const refused = await openStream(display!.server.url, subresources, upgradeRequest('/portforward?port=22%20tcp%3A0.0.0.0%3A2222-%3A22', 'kubevmm-portforward'));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ reason: 'InvalidRequest', message: expect.stringMatching(/^GET \/portforward: port: /) });
    expect((await usernet(display!)).filter((s) => s.state === 'HOST_FORWARD').map((s) => `${s.sourceAddress}:${s.sourcePort}`)).toEqual([expect.stringMatching(/^\*:\d+$/)]);
  });

  it('refuses a VM without a network interface with 409 NoNetwork naming spec.interfaces', async () => {
    const refused = await openStream(bare!.server.url, subresources, upgradeRequest('/portforward?port=22', 'kubevmm-portforward'));
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({ reason: 'NoNetwork', message: expect.stringMatching(/add one to spec\.interfaces/) });
  });
});

describe('GET /vm-metrics', () => {
  it('answers the contract\'s vmMetricsReport with the CPU the guest used', async () => {
    const res = await control(display!.server.url, 'GET', '/vm-metrics', subresources);
    expect(res.status).toBe(200);
    const report = vmMetricsReport.parse(res.body);
    expect(report.state).toBe('running');
    expect(report.failed).toEqual([]);
    expect(report.cpu.qemuSeconds).toBeGreaterThan(0);
    expect(report.cpu.vcpus?.map((v) => v.vcpu)).toEqual([0, 1]);
    expect(report.cpu.vcpus?.[0]?.seconds).toBeGreaterThan(0);
    expect(report.memory.guestBytes).toBe(192 * 2 ** 20);
    expect(report.disks?.find((d) => d.name === 'root')?.readBytes).toBeGreaterThan(0);
  });

  it('needs a client certificate', async () => {
    expect(await control(display!.server.url, 'GET', '/vm-metrics', creds.anonymous)).toMatchObject({ status: 401, body: { reason: 'ClientCertificateRequired' } });
  });
});
