// Hotplug over NBD (ADR 0005) with real processes: `launcher export` (qemu-storage-daemon,
// TLS-PSK) started as the attachment pod would start it, the launcher's control API, real QEMU
// under TCG and the fixture guest. One VM carries every case; the outage cases drive guest
// I/O through the console shell, so the write demonstrably starts while the export is gone.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { freePort } from '../../launcher/runtime/ports.js';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { NBD_EXPORT } from '../../api/layout.js';
import { startLauncher, type LauncherHandle } from '../../launcher/main.js';
import { buildGuest, requireQemu } from '../../harness/guest.js';
import { control, controlCredentials, type ControlCredentials } from './helpers/control.js';
import { Exporter, writePskFile } from '../../harness/exporter.js';
import { SerialLog } from './helpers/serial.js';
import { GUEST_ROOT_DISK, smallSpec, testVm } from './helpers/vm.js';

const BUILD_TIMEOUT_MS = 20 * 60_000;
const BOOT_MS = 90_000;
const MiB = 2 ** 20;
/** Long enough for `launcher export` to come back (tsx start-up on a busy machine) within it. */
const RECONNECT_DELAY_S = 30;

async function requireStorageDaemon(): Promise<void> {
  try {
    await promisify(execFile)('qemu-storage-daemon', ['--version']);
  } catch (err) {
    throw new Error(`qemu-storage-daemon is not installed (${(err as Error).message}); install it with: apt-get install -y qemu-system-common`, { cause: err });
  }
}

/** Types into the guest's console shell; answers are read from the serial log. */
class GuestShell {
  private constructor(private readonly socket: Socket) {}

  static async open(path: string): Promise<GuestShell> {
    const socket = createConnection(path);
    await new Promise<void>((ok, fail) => socket.once('connect', ok).once('error', fail));
    socket.on('data', () => undefined); // the serial log has everything
    socket.write('\r'); // "Press Enter for a shell."
    return new GuestShell(socket);
  }

  run(command: string): void {
    this.socket.write(`${command}\r`);
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A shell line that writes `text` at 4 KiB into the device, flushes it, and then prints
 * `KUBEVMM-IO <tag>-ok-42` (the arithmetic keeps the typed line itself from matching).
 */
function writeCommand(dev: string, tag: string, text: string): string {
  return `if printf '${text}\\n' | dd of=/dev/${dev} bs=512 seek=8 conv=notrunc,fsync 2>/dev/null; then echo KUBEVMM-IO "${tag}-ok-$((6*7))"; else echo KUBEVMM-IO "${tag}-failed-$((6*7))"; fi`;
}

async function readAt(path: string, offset: number, length = 64): Promise<string> {
  const handle = await open(path, 'r');
  const buffer = Buffer.alloc(length);
  await handle.read(buffer, 0, length, offset);
  await handle.close();
  return buffer.toString('latin1').split('\n')[0] ?? '';
}

async function eventually<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

describe('a disk hotplugged over NBD from `launcher export`', () => {
  let work: string;
  let handle: LauncherHandle | undefined;
  let serial: SerialLog;
  let shell: GuestShell | undefined;
  let url: string;
  const logs: string[] = [];
  const exporters: Exporter[] = [];
  let keyDir: string;
  let volume: string;
  let port: number;
  let creds: ControlCredentials;
  const SIZE = 16 * MiB;

  const startExport = async (dir = keyDir): Promise<Exporter> => {
    const exporter = await Exporter.start({ source: volume, size: SIZE, port, pskDir: dir });
    exporters.push(exporter);
    return exporter;
  };
  const attach = (name: string) => control(url, 'POST', '/disks', creds.operator, { name, nbd: { host: '127.0.0.1', port, export: NBD_EXPORT.name } });
  const diskStatus = (name: string) => handle!.status().disks.find((d) => d.name === name);

  beforeAll(async () => {
    await requireQemu();
    await requireStorageDaemon();
    const image = await buildGuest();
    work = await mkdtemp(join(tmpdir(), 'kubevmm-nbd-'));
    keyDir = dirname(await writePskFile(join(work, 'launcher-key')));
    volume = join(work, 'volume');
    await mkdir(volume);
    port = await freePort();
    creds = await controlCredentials(join(work, 'credentials'), { name: 'nbd' });
    const vm = testVm('nbd', smallSpec({ disks: [GUEST_ROOT_DISK] }));
    handle = await startLauncher({
      vm,
      accel: 'tcg',
      runtimeDir: join(work, 'runtime'),
      disks: { root: image },
      control: { port: 0, host: '127.0.0.1', tls: creds.tls },
      pskFile: join(keyDir, 'keys.psk'),
      nbd: { reconnectDelaySeconds: RECONNECT_DELAY_S },
      // Resume attempts every few seconds, so the test sees the VM back soon after the export.
      timing: { ioRetry: { initialMs: 1_000, maxMs: 4_000 } },
      log: (line) => logs.push(line),
    });
    url = handle.controlUrl!;
    serial = new SerialLog(handle.serialLog);
    await handle.started;
    await serial.waitFor(/KUBEVMM-GUEST ready/, BOOT_MS);
    shell = await GuestShell.open(handle.serialSocket);
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    shell?.close();
    if (handle) {
      await handle.stop({ reason: 'TestCleanup', message: 'test cleanup' });
      await handle.done;
    }
    for (const exporter of exporters) await exporter.kill();
    if (work) await rm(work, { recursive: true, force: true });
  }, 120_000);

  it('refuses a body with both path and nbd, or with neither', async () => {
    const both = await control(url, 'POST', '/disks', creds.operator, { name: 'data-x', path: '/x.img', nbd: { host: '127.0.0.1' } });
    expect(both).toMatchObject({ status: 400, body: { reason: 'InvalidRequest', message: expect.stringContaining('exactly one of path') } });
    expect(await control(url, 'POST', '/disks', creds.operator, { name: 'data-x' })).toMatchObject({ status: 400, body: { reason: 'InvalidRequest' } });
    expect(await control(url, 'POST', '/disks', creds.operator, { name: 'data-x', nbd: { host: 'a b' } })).toMatchObject({ status: 400, body: { message: expect.stringContaining('nbd.host') } });
  });

  it('(b) refuses an export holding another key with a clear error, and leaves nothing attached', async () => {
    const wrong = await startExport(dirname(await writePskFile(join(work, 'other-key'))));
    const refused = await attach('data-nbd');
    expect(refused).toMatchObject({ status: 500, body: { reason: 'NbdTlsFailed' } });
    expect(String(refused.body.message)).toMatch(/TLS handshake failed.*same keys\.psk/);
    expect(diskStatus('data-nbd')).toBeUndefined();
    expect(handle!.status().state).toBe('running');
    expect(await wrong.stop()).toBe(0); // SIGTERM passed on: the daemon closed its export cleanly
  }, 120_000);

  it('(a) attaches the export through the control API; the guest writes it; detach is clean', async () => {
    const exporter = await startExport();
    // The same name as the refused attach: nothing of it may be left in QEMU.
    const attached = await attach('data-nbd');
    expect(attached).toMatchObject({ status: 201, body: { name: 'data-nbd', phase: 'Attached' } });
    const [, dev, size] = (await serial.waitFor(/KUBEVMM-GUEST disk-added dev=(vd[a-z]+) serial=data-nbd size=(\d+)/, 60_000)) as string[];
    expect(Number(size)).toBe(SIZE / 512);
    expect(attached.body.target).toBe(dev);
    await serial.waitFor(new RegExp(`KUBEVMM-GUEST wrote disk=data-nbd dev=${dev}`), 60_000);

    expect(await control(url, 'DELETE', '/disks/data-nbd', creds.operator)).toMatchObject({ status: 200 });
    await serial.waitFor(new RegExp(`KUBEVMM-GUEST disk-removed dev=${dev}`), 60_000);
    expect(diskStatus('data-nbd')).toBeUndefined();
    expect(await exporter.stop()).toBe(0);
    expect(await readAt(join(volume, 'disk.img'), 0)).toBe('KUBEVMM-DATA data-nbd written-by-guest');
  }, 180_000);

  it('(c) rides out an export restarted within the reconnect window: the write completes, the VM keeps running', async () => {
    let exporter = await startExport();
    expect(await attach('data-nbd')).toMatchObject({ status: 201 });
    const [, dev] = (await serial.waitFor(/KUBEVMM-GUEST wrote disk=data-nbd dev=(vd[a-z]+)/, 60_000)) as string[];
    const pausesBefore = logs.filter((l) => l.startsWith('vm paused')).length;

    await exporter.kill();
    shell!.run(writeCommand(dev!, 'short', 'KUBEVMM-OUTAGE short'));
    await new Promise((ok) => setTimeout(ok, 2_000)); // the write is now waiting on the lost connection
    exporter = await startExport();
    await serial.waitFor(/KUBEVMM-IO short-ok-42/, RECONNECT_DELAY_S * 1000 + 60_000);
    expect(handle!.status().state).toBe('running');
    expect(logs.filter((l) => l.startsWith('vm paused'))).toHaveLength(pausesBefore);

    expect(await control(url, 'DELETE', '/disks/data-nbd', creds.operator)).toMatchObject({ status: 200 });
    await serial.waitFor(new RegExp(`KUBEVMM-GUEST disk-removed dev=${dev}`), 60_000);
    expect(await exporter.stop()).toBe(0);
    expect(await readAt(join(volume, 'disk.img'), 4096)).toBe('KUBEVMM-OUTAGE short');
  }, 240_000);

  it('(d) pauses with the disk named when the export stays away too long, and resumes by itself when it is back', async () => {
    let exporter = await startExport();
    expect(await attach('data-nbd')).toMatchObject({ status: 201 });
    const [, dev] = (await serial.waitFor(/KUBEVMM-GUEST wrote disk=data-nbd dev=(vd[a-z]+)/, 60_000)) as string[];

    await exporter.kill();
    shell!.run(writeCommand(dev!, 'long', 'KUBEVMM-OUTAGE long'));
    const paused = await eventually('the I/O-error pause', () => {
      const status = handle!.status();
      return status.state === 'paused' ? status : undefined;
    }, RECONNECT_DELAY_S * 1000 + 60_000);
    // The 4 KiB page is read before the partial write, so either operation may be the one that fails.
    expect(paused).toMatchObject({ reason: 'IoError', message: expect.stringMatching(/^paused on disk data-nbd: (read|write) error: Input\/output error$/) });
    expect(paused.disks.find((d) => d.name === 'data-nbd')).toMatchObject({
      phase: 'Attached',
      message: expect.stringContaining(`on nbd export 127.0.0.1:${port}/disk`),
    });
    expect(await control(url, 'GET', '/readyz', creds.anonymous)).toMatchObject({ status: 503 });

    exporter = await startExport();
    await serial.waitFor(/KUBEVMM-IO long-ok-42/, 120_000);
    await eventually('running again', () => (handle!.status().state === 'running' ? true : undefined), 60_000);
    expect(diskStatus('data-nbd')).toEqual({ name: 'data-nbd', phase: 'Attached', target: dev });

    expect(await control(url, 'DELETE', '/disks/data-nbd', creds.operator)).toMatchObject({ status: 200 });
    await serial.waitFor(new RegExp(`KUBEVMM-GUEST disk-removed dev=${dev}`), 60_000);
    expect(await exporter.stop()).toBe(0);
    expect(await readAt(join(volume, 'disk.img'), 4096)).toBe('KUBEVMM-OUTAGE long');
  }, 300_000);
});
