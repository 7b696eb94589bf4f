// The launcher against real QEMU (TCG only: never kvm in CI) and the fixture guest from
// test/fixtures/guest, whose serial console reports what the guest saw. One VM carries the
// checks that only need a running guest (boot, cloud-init, disks, control API, hotplug) and
// ends with the ACPI shutdown; the endings that need their own guest (ACPI ignored, QEMU
// killed, kernel panic) use small single-vCPU VMs.

import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLauncher, TCG_NOTICE, type LauncherHandle, type LauncherOptions } from '../../launcher/main.js';
import type { LauncherVm } from '../../api/resolve.js';
import { buildGuest, requireQemu } from '../../harness/guest.js';
import { control, controlCredentials, type ControlCredentials } from './helpers/control.js';
import { SerialLog } from './helpers/serial.js';
import { GUEST_ROOT_DISK, smallSpec, testVm } from './helpers/vm.js';

const BUILD_TIMEOUT_MS = 20 * 60_000;
/** Boot to `ready` takes ~12 s under TCG on two cores; leave room for a loaded CI machine. */
const BOOT_MS = 90_000;
const MiB = 2 ** 20;

let guestImage: string;
let work: string;

beforeAll(async () => {
  await requireQemu();
  guestImage = await buildGuest();
  work = await mkdtemp(join(tmpdir(), 'kubevmm-lifecycle-'));
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A sparse raw image of `mib` MiB. */
async function rawDisk(name: string, mib: number): Promise<string> {
  const path = join(work, name);
  const handle = await open(path, 'w');
  await handle.truncate(mib * MiB);
  await handle.close();
  return path;
}

/** The first line of a disk image, where the guest writes its marker. */
async function firstLine(path: string): Promise<string> {
  const handle = await open(path, 'r');
  const buffer = Buffer.alloc(128);
  await handle.read(buffer, 0, buffer.length, 0);
  await handle.close();
  return buffer.toString('latin1').split('\n')[0] ?? '';
}

interface Started {
  handle: LauncherHandle;
  serial: SerialLog;
  logs: string[];
}

/** Start a VM with the fixture guest as its read-only boot disk. */
async function start(vm: LauncherVm, extra: Partial<LauncherOptions> & { disks?: Record<string, string> } = {}): Promise<Started> {
  const logs: string[] = [];
  const runtimeDir = await mkdtemp(join(work, `${vm.name}-`));
  const handle = await startLauncher({
    vm,
    accel: 'tcg',
    runtimeDir,
    ...extra,
    disks: { root: guestImage, ...extra.disks },
    log: (line) => logs.push(line),
  });
  return { handle, serial: new SerialLog(handle.serialLog), logs };
}

/** Stop whatever a failed test left running. */
async function cleanup(started: Started | undefined): Promise<void> {
  if (!started) return;
  await started.handle.stop({ reason: 'TestCleanup', message: 'test cleanup' });
  await started.handle.done;
}

describe('a guest driven through the control API', () => {
  const USER_DATA = '#cloud-config\n# written by the lifecycle test\nruncmd: [echo hello]\n';
  const GRACE_SECONDS = 30;
  let vm: Started | undefined;
  let url: string;
  let creds: ControlCredentials;
  let dataBoot: string;
  let dataHot: string;
  let terminationLog: string;

  beforeAll(async () => {
    dataBoot = await rawDisk('data-boot.img', 8);
    dataHot = await rawDisk('data-hot.img', 4);
    terminationLog = join(work, 'termination-log');
    creds = await controlCredentials(join(work, 'credentials'), { name: 'lifecycle' });
    const spec = smallSpec({
      cpu: { cores: 2 },
      memory: { guest: '192Mi' },
      terminationGracePeriodSeconds: GRACE_SECONDS,
      // The fixture guest runs no agent: the channel must be harmless (status says so, stop uses ACPI).
      devices: { graphics: 'none', balloon: false, rng: false, guestAgent: true },
      disks: [
        GUEST_ROOT_DISK,
        { name: 'data-boot', persistentVolumeClaim: { claimName: 'data-boot' } },
        { name: 'cloudinit', cloudInit: { userData: USER_DATA } },
        { name: 'data-hot', hotpluggable: true, persistentVolumeClaim: { claimName: 'data-hot' } },
      ],
    });
    vm = await start(testVm('lifecycle', spec), {
      disks: { 'data-boot': dataBoot },
      control: { port: 0, host: '127.0.0.1', tls: creds.tls },
      terminationLog,
    });
    url = vm.handle.controlUrl!;
    await vm.handle.started;
  }, BOOT_MS);

  afterAll(() => cleanup(vm), 60_000);

  it('boots to the serial marker and the guest sees the spec vCPUs and memory', async () => {
    const [, cpus, memKb] = (await vm!.serial.waitFor(/KUBEVMM-GUEST booted cpus=(\d+) mem_kb=(\d+)/, BOOT_MS)) as string[];
    expect(Number(cpus)).toBe(2);
    // MemTotal is guest RAM minus what firmware and kernel keep: most of 192 MiB, never more.
    expect(Number(memKb)).toBeGreaterThan(0.7 * 192 * 1024);
    expect(Number(memKb)).toBeLessThanOrEqual(192 * 1024);
    expect(vm!.handle.status()).toMatchObject({ state: 'running', accelerator: 'tcg' });
    expect(vm!.logs).toContain(TCG_NOTICE);
  }, BOOT_MS);

  it('hands cloud-init user data and the hostname to the guest', async () => {
    await vm!.serial.waitFor(/KUBEVMM-GUEST cidata hostname=lifecycle\r?\n/, BOOT_MS);
    const [, userData] = (await vm!.serial.waitFor(/KUBEVMM-GUEST userdata-begin\r?\n([\s\S]*?)KUBEVMM-GUEST userdata-end/, BOOT_MS)) as string[];
    expect(userData!.replace(/\r\n/g, '\n')).toBe(USER_DATA);
  }, BOOT_MS);

  it('lets the guest write to a raw data disk attached at start', async () => {
    await vm!.serial.waitFor(/KUBEVMM-GUEST wrote disk=data-boot dev=vd[a-z]+/, BOOT_MS);
    await vm!.serial.waitFor(/KUBEVMM-GUEST ready/, BOOT_MS);
  }, BOOT_MS);

  it('answers /readyz over HTTPS without a client certificate and refuses everything else without the right one', async () => {
    expect(await control(url, 'GET', '/readyz', creds.anonymous)).toMatchObject({ status: 200, text: 'ok\n' });
    expect(await control(url, 'GET', '/status', creds.anonymous)).toMatchObject({ status: 401, body: { reason: 'ClientCertificateRequired' } });
    expect(await control(url, 'POST', '/pause', creds.stranger)).toMatchObject({ status: 401, body: { reason: 'ClientCertificateRejected' } });
    expect((await fetch(`${url.replace('https:', 'http:')}/readyz`)).status).toBe(400);
    expect(vm!.handle.status().state).toBe('running');
    const status = await control(url, 'GET', '/status', creds.operator);
    expect(status).toMatchObject({ status: 200, body: { state: 'running', accelerator: 'tcg' } });
    expect(status.body.disks).toEqual([
      { name: 'root', phase: 'Attached', target: 'vda' },
      { name: 'data-boot', phase: 'Attached', target: 'vdb' },
      { name: 'cloudinit', phase: 'Attached', target: 'vdc' },
      { name: 'data-hot', phase: 'Pending' },
    ]);
    expect(status.body.guest).toEqual({ agentConnected: false });
  });

  it('pauses and resumes over HTTPS; not ready while paused', async () => {
    expect(await control(url, 'POST', '/pause', creds.operator)).toMatchObject({ status: 200, body: { state: 'paused', reason: 'PausedByUser' } });
    expect(await control(url, 'GET', '/readyz', creds.anonymous)).toMatchObject({ status: 503 });
    expect(await control(url, 'POST', '/resume', creds.operator)).toMatchObject({ status: 200, body: { state: 'running' } });
    expect(await control(url, 'GET', '/readyz', creds.anonymous)).toMatchObject({ status: 200 });
  });

  it('hotplugs a raw disk that the guest sees and writes, and unplugs it again', async () => {
    const attached = await control(url, 'POST', '/disks', creds.operator, { name: 'data-hot', path: dataHot });
    expect(attached).toMatchObject({ status: 201, body: { name: 'data-hot', phase: 'Attached' } });
    const [, dev, size] = (await vm!.serial.waitFor(/KUBEVMM-GUEST disk-added dev=(vd[a-z]+) serial=data-hot size=(\d+)/, 60_000)) as string[];
    expect(Number(size)).toBe((4 * MiB) / 512);
    expect(attached.body.target).toBe(dev); // the best guess matches Linux's lowest-free-letter rule
    await vm!.serial.waitFor(new RegExp(`KUBEVMM-GUEST wrote disk=data-hot dev=${dev}`), 60_000);
    expect(await control(url, 'DELETE', '/disks/root', creds.operator)).toMatchObject({ status: 409, body: { reason: 'NotHotplugged' } });

    expect(await control(url, 'DELETE', '/disks/data-hot', creds.operator)).toMatchObject({ status: 200 });
    await vm!.serial.waitFor(new RegExp(`KUBEVMM-GUEST disk-removed dev=${dev}`), 60_000);
    expect(vm!.handle.status().disks.find((d) => d.name === 'data-hot')).toEqual({ name: 'data-hot', phase: 'Pending' });
    expect(await firstLine(dataHot)).toBe('KUBEVMM-DATA data-hot written-by-guest');
  }, 120_000);

  it('shuts down through ACPI within the grace period and exits 0: guest powered off', async () => {
    const asked = Date.now();
    expect(await control(url, 'POST', '/shutdown', creds.operator)).toMatchObject({ status: 202, body: { state: 'stopping' } });
    const result = await vm!.handle.done;
    expect(result).toMatchObject({ exitCode: 0, reason: 'GuestShutdown: guest powered off' });
    expect(Date.now() - asked).toBeLessThan(GRACE_SECONDS * 1000);
    await vm!.serial.waitFor(/KUBEVMM-GUEST acpi-poweroff/, 1000);
    expect(await readFile(terminationLog, 'utf8')).toBe('GuestShutdown: guest powered off\n');
    expect(await firstLine(dataBoot)).toBe('KUBEVMM-DATA data-boot written-by-guest');
    expect(vm!.handle.status()).toMatchObject({ state: 'succeeded', reason: 'GuestShutdown' });
  }, 60_000);
});

describe('endings that need a guest of their own', () => {
  const tiny = (name: string, extra: Parameters<typeof smallSpec>[0] = {}) =>
    testVm(name, smallSpec({ cpu: { cores: 1 }, memory: { guest: '128Mi' }, ...extra }));
  let vm: Started | undefined;
  afterEach(async () => {
    await cleanup(vm);
    vm = undefined;
  }, 60_000);

  it('stops a guest that ignores ACPI with quit when the grace period ends', async () => {
    const grace = 5;
    const spec = { terminationGracePeriodSeconds: grace, disks: [GUEST_ROOT_DISK, { name: 'cloudinit', cloudInit: { userData: '#kubevmm: ignore-acpi\n' } }] };
    vm = await start(tiny('stubborn', spec));
    await vm.serial.waitFor(/KUBEVMM-GUEST ready/, BOOT_MS);
    const asked = Date.now();
    const outcome = await vm.handle.stop();
    const took = Date.now() - asked;
    await vm.serial.waitFor(/KUBEVMM-GUEST acpi-ignored/, 1000);
    expect(outcome).toMatchObject({ exitCode: 0, reason: 'GracePeriodExpired', message: `guest did not power off within ${grace}s; stopped with quit` });
    expect((await vm.handle.done).reason).toBe(`GracePeriodExpired: guest did not power off within ${grace}s; stopped with quit`);
    expect(took).toBeGreaterThanOrEqual(grace * 1000);
    expect(took).toBeLessThan((grace + 10) * 1000);
  }, BOOT_MS + 30_000);

  it('reports QEMU killed with SIGKILL as a failure naming the signal (after a paused start)', async () => {
    const terminationLog = join(work, 'killed-termination-log');
    vm = await start(tiny('killed', { paused: true, disks: [GUEST_ROOT_DISK] }), { terminationLog });
    await vm.handle.started;
    expect(vm.handle.status()).toMatchObject({ state: 'paused', reason: 'PausedByUser' });
    await vm.handle.resume();
    await vm.serial.waitFor(/KUBEVMM-GUEST booted cpus=1/, BOOT_MS);
    process.kill(vm.handle.pid!, 'SIGKILL');
    const result = await vm.handle.done;
    expect(result.exitCode).not.toBe(0);
    expect(result.reason).toMatch(/^QemuKilled: qemu exited on signal SIGKILL/);
    expect(await readFile(terminationLog, 'utf8')).toBe(`${result.reason}\n`);
    expect(vm.handle.status()).toMatchObject({ state: 'failed', reason: 'QemuKilled' });
  }, BOOT_MS + 30_000);

  it('reports a guest kernel panic as GuestPanicked', async () => {
    vm = await start(tiny('panicky', { disks: [GUEST_ROOT_DISK, { name: 'cloudinit', cloudInit: { userData: '#kubevmm: panic\n' } }] }));
    await vm.serial.waitFor(/KUBEVMM-GUEST panicking/, BOOT_MS);
    const result = await vm.handle.done;
    expect(result).toMatchObject({ exitCode: 1, reason: 'GuestPanicked: guest kernel panicked' });
  }, BOOT_MS + 30_000);
});
