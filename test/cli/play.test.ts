// `kubevmm play` as a user runs it: a real process, real QEMU under TCG, the fixture guest.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuest, requireQemu } from '../../harness/guest.js';
import { installKubevmm, type InstalledKubevmm } from './helpers/kubevmm.js';

let image = '';
let kubevmm: InstalledKubevmm;
const dir = mkdtempSync(join(tmpdir(), 'kubevmm-play-test-'));

beforeAll(async () => {
  await requireQemu();
  image = await buildGuest();
  kubevmm = await installKubevmm();
}, 300_000);
afterAll(() => kubevmm?.remove());

/** A VM for the fixture guest with the given cloud-init user data lines. */
function manifest(name: string, userData: string[]): string {
  const file = join(dir, `${name}.yaml`);
  const lines = userData.map((l) => `          ${l}`).join('\n');
  writeFileSync(
    file,
    `apiVersion: kubevmm.io/v1alpha1
kind: VirtualMachine
metadata: { name: ${name} }
spec:
  memory: { guest: 160Mi }
  terminationGracePeriodSeconds: 20
  devices: { graphics: none }
  interfaces: []
  disks:
    - { name: root, readOnly: true, containerDisk: { image: fixture } }
    - name: ci
      cloudInit:
        userData: |
${lines}
`,
  );
  return file;
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function start(...args: string[]): Run {
  const child = spawn(kubevmm.bin, ['play', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** QEMU's pid: play's child (setpriv execs QEMU in place, so it keeps that pid). */
function qemuOf(playPid: number): number {
  const children = spawnSync('pgrep', ['-P', String(playPid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
  const qemu = children.find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('qemu'));
  if (!qemu) throw new Error(`no QEMU among the children of play (${children.join(', ')})`);
  return qemu;
}

/** Whether a process exists and is not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(what: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('kubevmm play', () => {
  it('boots the README quickstart VM, shows its console, and exits 0 when the guest powers off', async () => {
    const run = start('examples/quickstart.yaml', '--disk', `root=${image}`, '--accel', 'tcg');
    expect(await run.exit).toBe(0);
    expect(run.stdout()).toMatch(/KUBEVMM-GUEST booted cpus=2 mem_kb=\d+/);
    expect(run.stdout()).toContain('KUBEVMM-GUEST cidata hostname=quickstart');
    expect(run.stderr()).toContain('kubevmm: accelerator tcg (software emulation)');
    expect(run.stderr()).toMatch(/guest port TCP\/22 is forwarded from port \d+/);
    expect(run.stderr()).toContain('GuestShutdown: guest powered off');
  }, 180_000);

  it('shuts the guest down gracefully on Ctrl-C (SIGINT)', async () => {
    const run = start(manifest('interrupted', ['#cloud-config']), '--disk', `root=${image}`, '--accel', 'tcg');
    await until(() => run.stdout().includes('KUBEVMM-GUEST ready'), 120_000);
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
    expect(run.stdout()).toContain('KUBEVMM-GUEST acpi-poweroff');
    expect(run.stderr()).toContain('GuestShutdown: guest powered off');
  }, 180_000);

  it('a second Ctrl-C stops a guest that ignores ACPI within a second', async () => {
    const run = start(manifest('stubborn', ['#kubevmm: ignore-acpi']), '--disk', `root=${image}`, '--accel', 'tcg');
    await until(() => run.stdout().includes('KUBEVMM-GUEST ready'), 120_000);
    const qemu = qemuOf(run.child.pid!);
    run.child.kill('SIGINT');
    await until(() => run.stdout().includes('KUBEVMM-GUEST acpi-ignored'), 30_000);
    expect(alive(qemu)).toBe(true); // the grace period (20 s) is still running
    const t0 = performance.now();
    run.child.kill('SIGINT');
    await until(() => !alive(qemu), 5_000);
    const stoppedMs = performance.now() - t0;
    console.log(`second Ctrl-C: QEMU gone after ${stoppedMs.toFixed(0)} ms`);
    expect(stoppedMs).toBeLessThan(1_000);
    expect(await run.exit).toBe(0);
    expect(run.stderr()).toContain('stopping now without waiting for the guest (second Ctrl-C)');
    expect(run.stderr()).toContain('ForcedStop: stopped with quit without waiting for the guest');
  }, 180_000);

  it('leaves no QEMU behind when play itself is killed with kill -9', async () => {
    const run = start(manifest('orphan', ['#cloud-config']), '--disk', `root=${image}`, '--accel', 'tcg');
    await until(() => run.stdout().includes('KUBEVMM-GUEST booted'), 120_000);
    const qemu = qemuOf(run.child.pid!);
    expect(alive(qemu)).toBe(true);
    run.child.kill('SIGKILL');
    await run.exit;
    await until(() => !alive(qemu), 10_000);
    expect(alive(qemu)).toBe(false);
  }, 180_000);

  it('exits non-zero with the reason when the guest panics', async () => {
    const run = start(manifest('panics', ['#kubevmm: panic']), '--disk', `root=${image}`, '--accel', 'tcg');
    expect(await run.exit).not.toBe(0);
    expect(run.stderr()).toMatch(/GuestPanicked/);
  }, 180_000);

  it('refuses a missing --disk mapping before QEMU starts, naming the disk and the fix', () => {
    const r = spawnSync(kubevmm.bin, ['play', 'examples/quickstart.yaml', '--accel', 'tcg'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('disk root (containerDisk ghcr.io/kubevmm/guest-fixture:latest) has no local image; map it to an image file with --disk root=PATH');
  });

  it('refuses a --disk file that does not exist and a disk the VM does not have', () => {
    const missing = spawnSync(kubevmm.bin, ['play', 'examples/quickstart.yaml', '--disk', 'root=/nonexistent.img', '--accel', 'tcg'], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/root.*\/nonexistent\.img/);
    const unknown = spawnSync(kubevmm.bin, ['play', 'examples/quickstart.yaml', '--disk', `root=${image}`, '--disk', 'data=/x.img', '--accel', 'tcg'], { encoding: 'utf8' });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('--disk data: the vm has no such disk (its disks: root, cloudinit)');
  });

  it('refuses an invalid manifest with the field path', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'apiVersion: kubevmm.io/v1alpha1\nkind: VirtualMachine\nmetadata: {name: bad}\nspec: {memory: {guest: 1Mi}}\n');
    const r = spawnSync(kubevmm.bin, ['play', file], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('VirtualMachine bad: spec.memory.guest: must be at least 16Mi');
  });
});
