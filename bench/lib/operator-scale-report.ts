// Figures and tables of bench/operator-scale.ts: latencies from the per-VM milestones, API
// writes per VM from the operator's request counter, CPU and memory.

import { formatTable } from './stats.js';
import { WRITE_VERBS, writeTotals, type ApiCounts } from './operator-scale-operator.js';
import type { CreatePhase, Milestones } from './operator-scale-load.js';

/** KubeVirt's API writes per VM on the way to Running (reference figure of the design). */
export const KUBEVIRT_WRITES_PER_VM = 8;

/** The goals of issue 17, checked by goalsTable. */
export const GOALS = {
  /** API writes per VM start, Events not counted. */
  writesPerVm: 4,
  /** All N VMs Running, from the first create, by N. */
  allRunningSeconds: new Map([
    [1000, 60],
    [5000, 300],
  ]),
  /** Operator RSS peak at 5000 VMs (the bundled operator). */
  rssMiBAt5000: 300,
  /** Operator CPU per VM over the run. */
  cpuMsPerVm: 15,
} as const;

const MiB = 2 ** 20;

/** Everything measured for one N. */
export interface RunResult {
  n: number;
  nodes: number;
  /** How the operator ran: its bundle (as the image) or through tsx. */
  loader: 'bundle' | 'tsx';
  workers: number;
  concurrency: number;
  load: { before: string; after: string };
  /** performance.now() when the first create was sent: the origin of the "all ..." times. */
  t0: number;
  create: CreatePhase & { endedAt: number };
  seen: Milestones;
  timedOut: boolean;
  /** Operator API requests from its start to the settled end of the run, and over the deletion. */
  requests: { run: ApiCounts; deletion: ApiCounts };
  reconciles: Record<string, number>;
  operator: {
    cpuStartup: number;
    cpuRun: number;
    cpuDeletion: number;
    rssAtStart: number;
    /** VmHWM when all VMs run and the operator is idle. */
    peakRss: number;
    rssAtEnd: number;
    /** V8 heap (prom-client's nodejs_heap_size_*_bytes) at the same moment. */
    heapUsedAtEnd: number;
    heapTotalAtEnd: number;
    /** VmHWM once the namespace is gone. */
    peakRssWithDeletion: number;
  };
  /** CPU seconds of the control plane's components over the run (start of creates to settled). */
  componentsCpu: Map<string, number>;
  deleteMs: number;
  logLevels: Record<string, number>;
  problems: string[];
}

/** The p-th percentile (nearest rank) of samples; NaN for none. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** Per VM: milestone minus the VM's create answer (ms), for the VMs that reached it. */
export function latencies(result: RunResult, milestone: Map<string, number>, from?: Map<string, number>): number[] {
  const out: number[] = [];
  for (const c of result.create.created) {
    const at = milestone.get(c.name);
    const start = from ? from.get(c.name) : c.createdAt;
    if (at !== undefined && start !== undefined) out.push(at - start);
  }
  return out;
}

/** From the first create to the last VM reaching the milestone (ms); NaN unless all did. */
export function allBy(result: RunResult, milestone: Map<string, number>): number {
  if (milestone.size < result.n) return NaN;
  return Math.max(...milestone.values()) - result.t0;
}

const s = (ms: number, d = 1) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(d)} s` : '-');
const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');

function spread(samples: readonly number[]): string {
  if (!samples.length) return '-';
  return `p50 ${s(percentile(samples, 50), 2)}, p99 ${s(percentile(samples, 99), 2)}, max ${s(percentile(samples, 100), 2)}`;
}

function reached(result: RunResult, milestone: Map<string, number>): string {
  const all = allBy(result, milestone);
  return Number.isFinite(all) ? s(all) : `not all: ${milestone.size} of ${result.n}`;
}

function createRow(result: RunResult): string {
  const { created, failed, endedAt } = result.create;
  const ms = endedAt - result.t0;
  const calls = created.map((c) => c.createdAt - c.sentAt);
  const retries = created.reduce((a, c) => a + c.attempts - 1, 0);
  return `${s(ms)} (${f(created.length / (ms / 1000), 0)}/s); call p50 ${f(percentile(calls, 50), 0)} ms, p99 ${f(percentile(calls, 99), 0)} ms; ${retries} retries, ${failed.length} failed`;
}

function sumReads(counts: ApiCounts): number {
  let reads = 0;
  for (const [key, c] of counts) if (!WRITE_VERBS.includes(key.split(' ')[0] ?? '')) reads += c.ok + c.failed;
  return reads;
}

function writesRow(counts: ApiCounts, n: number): string {
  const w = writeTotals(counts);
  return `${f(w.withoutEvents / n)} without Events + ${f(w.events / n)} Events = ${f(w.all / n)}`;
}

function componentsRow(cpu: ReadonlyMap<string, number>): string {
  return [...cpu].sort((a, b) => b[1] - a[1]).map(([name, sec]) => `${name} ${sec.toFixed(1)}`).join(', ') || '-';
}

function operatorMemory(r: RunResult): string {
  const o = r.operator;
  const m = (v: number) => f(v / MiB, 0);
  return `peak (VmHWM) ${m(o.peakRss)} MiB (${m(o.peakRssWithDeletion)} with the deletion); ${m(o.rssAtStart)} after start-up; at the end ${m(o.rssAtEnd)}, V8 heap ${m(o.heapUsedAtEnd)} used of ${m(o.heapTotalAtEnd)}`;
}

/** The main table of one run: timings, writes, reconciles, operator CPU and memory. */
export function runTable(r: RunResult): string {
  const reconciles = Object.values(r.reconciles).reduce((a, b) => a + b, 0);
  const rows: [string, string][] = [
    ['load average (1/5/15 min) before → after', `${r.load.before} → ${r.load.after}`],
    [`create ${r.n} VMs, ${r.concurrency} in flight`, createRow(r)],
    ['all launcher pods exist (from first create)', reached(r, r.seen.podAdded)],
    ['create → pod ADDED (watch event)', spread(latencies(r, r.seen.podAdded))],
    ['all pods Ready (KWOK)', reached(r, r.seen.podReady)],
    ['all VMs Running', reached(r, r.seen.vmRunning)],
    ['create → VM Running', spread(latencies(r, r.seen.vmRunning))],
    ['pod Ready → VM Running', spread(latencies(r, r.seen.vmRunning, r.seen.podReady))],
    ['reconciles per VM', `${f(reconciles / r.n)} (${Object.entries(r.reconciles).map(([k, v]) => `${k} ${v}`).join(', ')})`],
    ['API writes per VM', writesRow(r.requests.run, r.n)],
    ['API reads per VM (gets; informer lists/watches not counted)', f(sumReads(r.requests.run) / r.n)],
    ['operator CPU', `${f(r.operator.cpuRun, 1)} s over the run (${f((r.operator.cpuRun / r.n) * 1000, 1)} ms per VM); start-up ${f(r.operator.cpuStartup, 1)} s`],
    ['operator RSS', operatorMemory(r)],
    ['control plane CPU s over the run', componentsRow(r.componentsCpu)],
    ['delete the namespace (operator removes finalizers)', `${s(r.deleteMs)}; writes per VM ${writesRow(r.requests.deletion, r.n)}; operator CPU ${f(r.operator.cpuDeletion, 1)} s`],
    ['operator log lines', Object.entries(r.logLevels).map(([k, v]) => `${k} ${v}`).join(', ')],
  ];
  return formatTable(['measure', 'value'], rows);
}

/** API requests by verb and resource over one phase: total, failed (non-200), per VM. */
export function requestsTable(counts: ApiCounts, n: number): string {
  const rows = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([key, c]) => {
    const [verb = '', resource = ''] = key.split(' ');
    const kind = WRITE_VERBS.includes(verb) ? (resource === 'events' ? 'write (Event)' : 'write') : 'read';
    return [verb, resource, kind, String(c.ok + c.failed), String(c.failed), f((c.ok + c.failed) / n)];
  });
  return formatTable(['verb', 'resource', 'kind', 'requests', 'failed', 'per VM'], rows);
}

/** One line per N, side by side, with the KubeVirt reference and the goal. */
export function summaryTable(results: readonly RunResult[]): string {
  const rows = results.map((r) => {
    const w = writeTotals(r.requests.run);
    const pod = latencies(r, r.seen.podAdded);
    const running = latencies(r, r.seen.vmRunning);
    return [
      String(r.n),
      reached(r, r.seen.podAdded),
      `${s(percentile(pod, 50), 2)} / ${s(percentile(pod, 99), 2)}`,
      reached(r, r.seen.vmRunning),
      `${s(percentile(running, 50), 2)} / ${s(percentile(running, 99), 2)}`,
      f(w.withoutEvents / r.n),
      f(w.events / r.n),
      f(w.all / r.n),
      f(r.operator.cpuRun, 1),
      f(r.operator.peakRss / MiB, 0),
    ];
  });
  rows.push(['KubeVirt (reference)', '', '', '', '', '', '', `~${KUBEVIRT_WRITES_PER_VM}`, '', '']);
  rows.push(['goal', '', '', '', '', `<= ${GOALS.writesPerVm}`, '', '', '', '']);
  const headers = ['N', 'all pods', 'create→pod p50 / p99', 'all Running', 'create→Running p50 / p99', 'writes/VM w/o Events', 'Events/VM', 'writes/VM', 'operator CPU s', 'operator peak RSS MiB'];
  return formatTable(headers, rows);
}

/** Each run against the goals: measured, goal, met. */
export function goalsTable(results: readonly RunResult[]): string {
  const yes = (ok: boolean) => (ok ? 'yes' : 'NO');
  const rows: string[][] = [];
  for (const r of results) {
    const writes = writeTotals(r.requests.run).withoutEvents / r.n;
    rows.push([String(r.n), 'API writes per VM start (Events not counted)', f(writes), `<= ${GOALS.writesPerVm}`, yes(writes <= GOALS.writesPerVm)]);
    const cpuMs = (r.operator.cpuRun / r.n) * 1000;
    rows.push([String(r.n), 'operator CPU per VM', `${f(cpuMs, 1)} ms`, `<= ${GOALS.cpuMsPerVm} ms`, yes(cpuMs <= GOALS.cpuMsPerVm)]);
    const limit = GOALS.allRunningSeconds.get(r.n);
    const all = allBy(r, r.seen.vmRunning);
    if (limit !== undefined) rows.push([String(r.n), 'all VMs Running (from the first create)', s(all), `<= ${limit} s`, yes(all <= limit * 1000)]);
    if (r.n === 5000) {
      const rss = r.operator.peakRss / MiB;
      rows.push([String(r.n), `operator peak RSS (${r.loader === 'bundle' ? 'bundled' : 'through tsx: the goal is for the bundle'})`, `${f(rss, 0)} MiB`, `<= ${GOALS.rssMiBAt5000} MiB`, yes(r.loader === 'bundle' && rss <= GOALS.rssMiBAt5000)]);
    }
  }
  return formatTable(['N', 'goal', 'measured', 'goal value', 'met'], rows);
}
