/**
 * The performance tab's history: samples of the `virtualmachines/metrics` subresource, kept
 * for the last ~10 minutes, turned into rates (CPU %, disk bytes/s) between samples.
 */
import type { VmMetricsObject } from '../../../api/contract/subresource.js';

/** One point of the charts. */
export interface Point {
  /** Seconds since the epoch (what uPlot's time axis takes). */
  t: number;
  /** CPU use of the QEMU process in % of one host CPU. */
  cpuPercent: number | null;
  /** QEMU's resident memory in MiB. */
  residentMiB: number | null;
  /** Guest memory as configured, MiB. */
  guestMiB: number | null;
  /** Disk reads and writes of all disks, KiB/s. */
  readKiBs: number | null;
  writeKiBs: number | null;
}

/** How long the history lasts: 10 minutes. */
export const HISTORY_SECONDS = 600;

const MiB = 2 ** 20;

function diskTotals(m: VmMetricsObject): { read: number; write: number } | undefined {
  if (!m.disks) return undefined;
  return m.disks.reduce((s, d) => ({ read: s.read + d.readBytes, write: s.write + d.writeBytes }), { read: 0, write: 0 });
}

const rate = (now: number | undefined, before: number | undefined, seconds: number): number | null => (now === undefined || before === undefined || seconds <= 0 || now < before ? null : (now - before) / seconds);

/** The point of `sample` given the previous sample (rates need two). */
export function pointOf(sample: VmMetricsObject, previous: VmMetricsObject | undefined): Point {
  const t = Date.parse(sample.time) / 1000;
  const dt = previous ? t - Date.parse(previous.time) / 1000 : 0;
  const cpu = rate(sample.cpu.qemuSeconds, previous?.cpu.qemuSeconds, dt);
  const disks = diskTotals(sample);
  const before = previous ? diskTotals(previous) : undefined;
  const read = rate(disks?.read, before?.read, dt);
  const write = rate(disks?.write, before?.write, dt);
  return {
    t,
    cpuPercent: cpu === null ? null : cpu * 100,
    residentMiB: sample.memory.residentBytes === undefined ? null : sample.memory.residentBytes / MiB,
    guestMiB: sample.memory.guestBytes === undefined ? null : sample.memory.guestBytes / MiB,
    readKiBs: read === null ? null : read / 1024,
    writeKiBs: write === null ? null : write / 1024,
  };
}

/** The samples and points of one VM, newest last, never older than {@link HISTORY_SECONDS}. */
export class MetricsHistory {
  private last: VmMetricsObject | undefined;
  readonly points: Point[] = [];

  /** Adds a sample (one with the same time as the last is ignored); drops points past the window. */
  add(sample: VmMetricsObject): void {
    if (this.last && this.last.time === sample.time) return;
    this.points.push(pointOf(sample, this.last));
    this.last = sample;
    const oldest = Date.parse(sample.time) / 1000 - HISTORY_SECONDS;
    while (this.points.length && this.points[0]!.t < oldest) this.points.shift();
  }

  /** The series as uPlot's column arrays: times, then one array per field. */
  columns(fields: readonly (keyof Omit<Point, 't'>)[]): (number | null)[][] {
    return [this.points.map((p) => p.t), ...fields.map((f) => this.points.map((p) => p[f]))];
  }
}
