// Pure parsers from what QEMU and the kernel report to the numbers the per-VM metrics carry.
// QMP replies are checked with zod (only the fields used; others are ignored, so a newer
// QEMU that adds fields still parses); /proc files are parsed by their documented layout.

import { z } from 'zod';
import { diskDeviceId } from '../qemu/index.js';
import { LauncherError } from '../runtime/errors.js';

/**
 * Clock ticks per second of the `utime`/`stime` fields in /proc/<pid>/stat (USER_HZ). It is
 * 100 on every architecture Linux builds QEMU hosts on (x86, arm64, ppc64, s390x); Node has no
 * sysconf(_SC_CLK_TCK) to ask.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** A QMP reply or /proc file that does not have the shape the metrics need. */
export class MetricsParseError extends LauncherError {
  constructor(what: string, detail: string) {
    super({ reason: 'MetricsUnparsable', message: `${what}: ${detail}` });
  }
}

function parse<T>(what: string, schema: z.ZodType<T>, reply: unknown): T {
  const result = schema.safeParse(reply);
  if (result.success) return result.data;
  const detail = result.error.issues.map((i) => `${i.path.join('.') || 'reply'}: ${i.message}`).join('; ');
  throw new MetricsParseError(what, detail);
}

const count = z.number().int().nonnegative();

/** One vCPU and the host thread that runs it. */
export interface VcpuThread {
  /** QEMU's cpu-index: 0, 1, ... */
  vcpu: number;
  /** Host thread id (a task under /proc/<qemu pid>/task). */
  threadId: number;
}

const cpusFast = z.array(z.object({ 'cpu-index': count, 'thread-id': count }));

/**
 * `query-cpus-fast` -> vCPU threads, by vCPU index. Under TCG without `thread=multi` every
 * vCPU reports the same thread; the launcher always asks for multi-threaded TCG.
 */
export function vcpuThreads(reply: unknown): VcpuThread[] {
  return parse('query-cpus-fast', cpusFast, reply)
    .map((cpu) => ({ vcpu: cpu['cpu-index'], threadId: cpu['thread-id'] }))
    .sort((a, b) => a.vcpu - b.vcpu);
}

/**
 * CPU time (user + system) of a process or thread from its /proc/.../stat line, in seconds.
 * The command name (field 2) may hold spaces and parentheses ("CPU 0/TCG"), so the fixed
 * fields are counted from the last ')': state is the first of them, utime the 12th, stime the 13th.
 */
export function statCpuSeconds(stat: string, ticksPerSecond = CLOCK_TICKS_PER_SECOND): number {
  const close = stat.lastIndexOf(')');
  const fields = close < 0 ? [] : stat.slice(close + 2).trim().split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (fields.length < 13 || !Number.isSafeInteger(utime) || !Number.isSafeInteger(stime)) {
    throw new MetricsParseError('/proc stat', `no utime and stime fields in ${JSON.stringify(stat.slice(0, 80))}`);
  }
  return (utime + stime) / ticksPerSecond;
}

/** Resident set size from /proc/<pid>/status (`VmRSS:  1234 kB`), in bytes. */
export function residentBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new MetricsParseError('/proc status', 'no VmRSS line (a kernel thread or an exited process)');
  return Number(match[1]) * 1024;
}

const memorySummary = z.object({ 'base-memory': count, 'plugged-memory': count.optional() });

/** `query-memory-size-summary` -> guest RAM in bytes: boot memory plus hotplugged memory. */
export function guestMemoryBytes(reply: unknown): number {
  const summary = parse('query-memory-size-summary', memorySummary, reply);
  return summary['base-memory'] + (summary['plugged-memory'] ?? 0);
}

const balloonInfo = z.object({ actual: count });

/** `query-balloon` -> the memory the guest has now (guest RAM minus what the balloon holds), in bytes. */
export function balloonBytes(reply: unknown): number {
  return parse('query-balloon', balloonInfo, reply).actual;
}

/** Cumulative I/O of one disk since QEMU started, as its front end saw it. */
export interface DiskIo {
  /** The disk's name in the VM spec (or in the hotplug request). */
  disk: string;
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
  flushOps: number;
  readSeconds: number;
  writeSeconds: number;
  flushSeconds: number;
}

const blockStats = z.array(
  z.object({
    qdev: z.string().optional(),
    stats: z.object({
      rd_bytes: count,
      wr_bytes: count,
      rd_operations: count,
      wr_operations: count,
      flush_operations: count,
      rd_total_time_ns: count,
      wr_total_time_ns: count,
      flush_total_time_ns: count,
    }),
  }),
);

const DEVICE_PREFIX = diskDeviceId('');

/**
 * The disk name behind a block backend's `qdev`: the front end's id (`disk-<name>`, see
 * diskDeviceId) either bare (scsi-hd, ide-hd) or inside a QOM path
 * (`/machine/peripheral/disk-<name>/virtio-backend`). Undefined for anything else.
 */
export function diskOfQdev(qdev: string): string | undefined {
  const peripheral = /^\/machine\/peripheral\/([^/]+)/.exec(qdev);
  const id = peripheral ? peripheral[1]! : qdev.includes('/') ? '' : qdev;
  return id.startsWith(DEVICE_PREFIX) && id.length > DEVICE_PREFIX.length ? id.slice(DEVICE_PREFIX.length) : undefined;
}

/**
 * `query-blockstats` -> I/O per disk, in the reply's order. Only backends attached to one of
 * the launcher's disk devices count; the protocol node below (`parent`) is not added again.
 */
export function diskIo(reply: unknown): DiskIo[] {
  const out: DiskIo[] = [];
  for (const entry of parse('query-blockstats', blockStats, reply)) {
    const disk = entry.qdev === undefined ? undefined : diskOfQdev(entry.qdev);
    if (disk === undefined) continue;
    const s = entry.stats;
    out.push({
      disk,
      readBytes: s.rd_bytes,
      writeBytes: s.wr_bytes,
      readOps: s.rd_operations,
      writeOps: s.wr_operations,
      flushOps: s.flush_operations,
      readSeconds: s.rd_total_time_ns / 1e9,
      writeSeconds: s.wr_total_time_ns / 1e9,
      flushSeconds: s.flush_total_time_ns / 1e9,
    });
  }
  return out;
}
