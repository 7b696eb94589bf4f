// One overhead measurement: start the launcher as a process, wait for the guest's `ready`
// line, read the launcher's and QEMU's memory from /proc, stop everything.

import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LauncherVm } from '../../api/resolve.js';
import { launcherChildren, spawnLauncher, type LauncherProcessOptions } from './launcher-process.js';
import { processMemory, qemuMemory, type ProcessMemory, type QemuMemory } from './proc.js';
import { waitForMarker } from './serial.js';

const READY = 'KUBEVMM-GUEST ready';
const BOOT_TIMEOUT_MS = 240_000;
/** A graceful stop (ACPI, the guest is up) takes seconds; past this, kill. */
const STOP_TIMEOUT_MS = 30_000;

/** What one run measured, in bytes. */
export interface Measurement {
  /** The launcher's Node process at `ready`. */
  launcher: ProcessMemory;
  /** The same process `settleMs` later. */
  launcherSettled: ProcessMemory;
  /** RSS of the launcher's other children (none expected; tsx may start an esbuild service). */
  helpers: number;
  qemu: QemuMemory;
}

/** Options of {@link measureOnce}. */
export interface MeasureOptions extends Omit<LauncherProcessOptions, 'dir'> {
  vm: LauncherVm;
  /** Parent of the run's temporary directory. */
  work: string;
  settleMs: number;
}

async function helpersRss(pids: readonly number[]): Promise<number> {
  const rss = await Promise.all(pids.map((p) => processMemory(p).then((m) => m.rss, () => 0)));
  return rss.reduce((a, b) => a + b, 0);
}

/** SIGTERM the launcher (it stops the guest over ACPI); SIGKILL both when that hangs. */
async function stopAll(launcher: { child: { pid?: number; kill(s: NodeJS.Signals): boolean }; exited: Promise<void> }, qemuPid?: number): Promise<void> {
  launcher.child.kill('SIGTERM');
  const ended = await Promise.race([launcher.exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
  if (ended) return;
  launcher.child.kill('SIGKILL');
  if (qemuPid) {
    try {
      process.kill(qemuPid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await launcher.exited;
}

/** Boot the VM through a launcher process and measure at the guest's `ready`. */
export async function measureOnce(options: MeasureOptions): Promise<Measurement> {
  const dir = await mkdtemp(join(options.work, 'm-'));
  const launcher = await spawnLauncher({ ...options, dir });
  let qemuPid: number | undefined;
  try {
    await waitForMarker({ path: launcher.serialLog, marker: READY, timeoutMs: BOOT_TIMEOUT_MS, gone: launcher.exited }).catch((err: Error) => {
      throw new Error(`${err.message}\nlauncher stderr:\n${launcher.stderr()}`);
    });
    const pid = launcher.child.pid!;
    const children = await launcherChildren(pid);
    qemuPid = children.qemu;
    if (!qemuPid) throw new Error('the launcher has no QEMU child');
    const [launcherMem, helpers, qemu] = await Promise.all([processMemory(pid), helpersRss(children.helpers), qemuMemory(qemuPid, options.vm.memory.guestBytes)]);
    await sleep(options.settleMs);
    return { launcher: launcherMem, launcherSettled: await processMemory(pid), helpers, qemu };
  } finally {
    await stopAll(launcher, qemuPid);
    await rm(dir, { recursive: true, force: true });
  }
}

/** QEMU's memory beyond the guest RAM's resident pages (RSS - guest RAM RSS). */
export function qemuBeyondGuest(m: Measurement): number {
  return m.qemu.total.rss - m.qemu.guestRam.rss;
}

/** Everything the VM's pod holds beyond guest RAM: both processes' RSS and page tables. */
export function measuredOverhead(m: Measurement): number {
  return m.launcher.rss + m.helpers + qemuBeyondGuest(m) + m.launcher.pageTables + m.qemu.total.pageTables;
}

/** The same without file-backed pages (binaries, libraries: page cache the kernel can reclaim). */
export function anonOverhead(m: Measurement): number {
  const q = m.qemu;
  return m.launcher.rssAnon + q.tcgCache.rss + q.otherRamBlocks.rss + q.otherAnon.rss + m.launcher.pageTables + q.total.pageTables;
}
