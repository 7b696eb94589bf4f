// Figures of the hotplug benchmark: guest-side IOPS and MiB/s per way of attaching the disk,
// hotplugged / boot-attached ratios against the goals, and attach/detach latencies. Pure.

import { iops, mibps, type DiskbenchMode, type DiskbenchResult } from './hotplug-guest.js';
import { formatSummary, formatTable, summarize } from './stats.js';

/** How the data file reached the guest. */
export type DiskCase = 'boot' | 'file' | 'nbd';

/** The hotplugged cases: what hotplug attaches. */
export type HotKind = Exclude<DiskCase, 'boot'>;

export const CASE_LABELS: Record<DiskCase, string> = {
  boot: 'boot-attached (virtio, local file)',
  file: 'hotplugged local file',
  nbd: 'hotplugged NBD (launcher export, TLS-PSK)',
};

/** One disk case of one round: the guest's four job results. */
export interface CaseRun {
  diskCase: DiskCase;
  round: number;
  results: DiskbenchResult[];
  /** Load average over 1 min when the case started. */
  load: number;
}

/** One attach/detach cycle, in ms. */
export interface Cycle {
  kind: HotKind;
  /** attach request -> the launcher's attach resolved (QEMU has the device). */
  attachMs: number;
  /** attach request -> the guest's `diskbench-found` line. */
  seenMs: number;
  /** detach request -> the launcher's detach resolved (DEVICE_DELETED, nodes removed). */
  detachMs: number;
  /** detach request -> the guest's `diskbench-gone` line. */
  goneMs: number;
}

interface Metric {
  mode: DiskbenchMode;
  label: string;
  unit: 'IOPS' | 'MiB/s';
  /** Hotplugged / boot ratio the issue asks for. */
  goal: number;
}

const METRICS: readonly Metric[] = [
  { mode: 'randread', label: '4k random read QD1', unit: 'IOPS', goal: 0.8 },
  { mode: 'randwrite', label: '4k random write QD1', unit: 'IOPS', goal: 0.8 },
  { mode: 'read', label: '1M sequential read', unit: 'MiB/s', goal: 0.95 },
  { mode: 'write', label: '1M sequential write', unit: 'MiB/s', goal: 0.95 },
];

/** The figure of one metric in one case run (NaN when the job is missing). */
function value(run: CaseRun, metric: Metric): number {
  const result = run.results.find((r) => r.mode === metric.mode);
  if (!result) return NaN;
  return metric.unit === 'IOPS' ? iops(result) : mibps(result);
}

function valuesOf(runs: readonly CaseRun[], diskCase: DiskCase, metric: Metric): number[] {
  return runs.filter((r) => r.diskCase === diskCase).map((r) => value(r, metric));
}

/** Median (min–max) of each metric per case. */
export function throughputTable(runs: readonly CaseRun[], cases: readonly DiskCase[]): string {
  return formatTable(
    ['case', ...METRICS.map((m) => `${m.label}, ${m.unit}`)],
    cases.map((c) => [CASE_LABELS[c], ...METRICS.map((m) => formatSummary(summarize(valuesOf(runs, c, m)), m.unit === 'IOPS' ? 0 : 1))]),
  );
}

/** Per-round ratios hot / boot (the same round ran both, close in time). */
function roundRatios(runs: readonly CaseRun[], kind: HotKind, metric: Metric): number[] {
  return runs
    .filter((r) => r.diskCase === kind)
    .map((hot) => {
      const boot = runs.find((r) => r.diskCase === 'boot' && r.round === hot.round);
      return boot ? value(hot, metric) / value(boot, metric) : NaN;
    });
}

/** Ratio of medians hot / boot per metric, the per-round spread, the goal and whether it is met. */
export function ratioTable(runs: readonly CaseRun[], kinds: readonly HotKind[]): string {
  const rows: string[][] = [];
  for (const kind of kinds) {
    for (const metric of METRICS) {
      const ratio = summarize(valuesOf(runs, kind, metric)).median / summarize(valuesOf(runs, 'boot', metric)).median;
      const spread = summarize(roundRatios(runs, kind, metric));
      const met = Number.isFinite(ratio) ? (ratio >= metric.goal ? 'yes' : 'NO') : '-';
      const cell = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '-');
      rows.push([CASE_LABELS[kind], metric.label, cell(ratio), formatSummary(spread, 3), `>= ${metric.goal}`, met]);
    }
  }
  return formatTable(['hotplugged / boot', 'metric', 'ratio of medians', 'per-round ratio, median (min–max)', 'goal', 'met'], rows);
}

/** Median (min–max) of each latency per kind. */
export function latencyTable(cycles: readonly Cycle[], kinds: readonly HotKind[]): string {
  const of = (kind: HotKind, key: Exclude<keyof Cycle, 'kind'>) => formatSummary(summarize(cycles.filter((c) => c.kind === kind).map((c) => c[key])));
  return formatTable(
    ['attached', 'cycles', 'attach call returned', 'guest sees the disk (p50)', 'detach call returned', 'guest sees it gone'],
    kinds.map((k) => [CASE_LABELS[k], String(cycles.filter((c) => c.kind === k).length), of(k, 'attachMs'), of(k, 'seenMs'), of(k, 'detachMs'), of(k, 'goneMs')]),
  );
}

/** The load averages seen at the start of the cases: median (min–max). */
export function loadLine(runs: readonly CaseRun[]): string {
  return formatSummary(summarize(runs.map((r) => r.load)), 2);
}
