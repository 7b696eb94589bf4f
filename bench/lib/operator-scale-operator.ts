// The operator as a child process and its /metrics: the API requests it made, by verb,
// resource and code. By default the operator runs as the image runs it: the esbuild bundle
// (`node operator.mjs`, scripts/bundle.ts), built once per bench run; `tsx` runs the
// TypeScript through tsx as `npm run operator` does.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle, ENTRIES } from '../../scripts/bundle.js';

/** A running operator. */
export interface OperatorHandle {
  pid: number;
  /** Base URL of its health server (`/metrics` below it). */
  url: string;
  /** Log lines seen so far, by pino level name (info, warn, error...). */
  levels: () => Record<string, number>;
  /** Warn/error lines grouped by message and API error message, most frequent first. */
  problems: () => string[];
  /** SIGTERM, then SIGKILL after 10 s; resolves when it has exited. */
  stop(): Promise<void>;
}

/** How the operator process is started. */
export type OperatorLoader = 'bundle' | 'tsx';

/** Builds the operator bundle into a temporary directory; resolves with the .mjs path. */
export async function buildOperatorBundle(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kubevmm-bench-operator-'));
  const [file] = await bundle({ outDir: dir, entries: ENTRIES.filter((e) => e.name === 'operator') });
  if (!file) throw new Error('no operator bundle was built');
  return file;
}

/** Options of startOperator. */
export interface OperatorOptions {
  repoRoot: string;
  workers: number;
  /** The bundle to run (buildOperatorBundle); absent: run operator/main.ts through tsx. */
  bundleFile?: string;
  /** Also write the operator's log lines here (for a closer look at one run). */
  logFile?: string;
  /** Extra operator flags. */
  args?: readonly string[];
  /** How long to wait for the operator to lead (default 120 s: tsx compiles at start-up). */
  startTimeoutMs?: number;
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const MAX_PROBLEMS = 8;

/** The API server's Status message inside a logged client-node error, else the error's first line. */
export function errorGist(err: string): string {
  const status = /message\\?":\\?"(.*?)\\?"[,}]/.exec(err)?.[1];
  const code = /HTTP-Code: (\d+)/.exec(err)?.[1];
  const gist = status ? `${code ?? ''} ${status}` : (err.split('\n')[0] ?? '');
  // Names of VMs and pods differ line by line: group by the message's shape.
  return gist.replace(/\\/g, '').replace(/"[^"]*"/g, '"…"').replace(/vm-\d+/g, 'vm-…').replace(/scale-\d+-[a-z0-9]+/g, '<ns>').slice(0, 200).trim();
}

/** Reads the operator's JSON log lines; remembers the URL, counts levels, groups problems. */
class LogReader {
  url: string | undefined;
  leading = false;
  readonly levels: Record<string, number> = {};
  private readonly problemCounts = new Map<string, number>();
  private partial = '';

  get problems(): string[] {
    return [...this.problemCounts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_PROBLEMS)
      .map(([k, n]) => `${n} x ${k}`);
  }

  feed(chunk: Buffer): void {
    const lines = (this.partial + chunk.toString()).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    let entry: { level?: number; msg?: string; url?: string; err?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      if (line.trim()) this.problem(line.slice(0, 200));
      return;
    }
    const level = LEVELS[entry.level ?? 30] ?? String(entry.level);
    this.levels[level] = (this.levels[level] ?? 0) + 1;
    if (entry.url) this.url = entry.url;
    if (entry.msg?.startsWith('leading')) this.leading = true;
    if ((entry.level ?? 30) >= 40) this.problem(`${level} ${entry.msg ?? ''}${entry.err ? `: ${errorGist(entry.err)}` : ''}`);
  }

  private problem(key: string): void {
    this.problemCounts.set(key, (this.problemCounts.get(key) ?? 0) + 1);
  }
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

async function waitUntilLeading(reader: LogReader, child: ChildProcess, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  while (!(reader.url && reader.leading)) {
    if (child.exitCode !== null) throw new Error(`the operator exited with ${child.exitCode}: ${reader.problems.join('\n')}`);
    if (Date.now() > end) throw new Error(`the operator did not start leading within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return reader.url;
}

/** Starts the operator against $KUBECONFIG and waits until it reconciles (caches synced, leading). */
export async function startOperator(opts: OperatorOptions): Promise<OperatorHandle> {
  const args = ['--no-leader-elect', '--accelerator', 'tcg', '--health-port', '0', '--webhook-port', '0', '--workers', String(opts.workers), ...(opts.args ?? [])];
  const entry = opts.bundleFile ? [opts.bundleFile] : ['--import', 'tsx', 'operator/main.ts'];
  const child = spawn(process.execPath, [...entry, ...args], { cwd: opts.repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const reader = new LogReader();
  const copy = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  child.stdout?.on('data', (c: Buffer) => (reader.feed(c), copy?.write(c)));
  child.stderr?.on('data', (c: Buffer) => (reader.feed(c), copy?.write(c)));
  const exited = exitOf(child);
  try {
    const url = await waitUntilLeading(reader, child, opts.startTimeoutMs ?? 120_000);
    return { pid: child.pid ?? -1, url, levels: () => ({ ...reader.levels }), problems: () => [...reader.problems], stop: () => stopChild(child, exited) };
  } catch (err) {
    await stopChild(child, exited);
    throw err;
  }
}

/** One sample of a Prometheus text exposition. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (enough of it for prom-client's output). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return samples;
}

/** The operator's metrics now. */
export async function scrape(url: string): Promise<MetricSample[]> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return parseMetrics(await res.text());
}

/** Verbs that change state on the API server (RBAC's write verbs). */
export const WRITE_VERBS: readonly string[] = ['create', 'patch', 'update', 'delete'];

/** kubevmm_api_requests_total as `verb resource` -> {ok, failed} counts. */
export type ApiCounts = Map<string, { ok: number; failed: number }>;

/** The API request counter, by `verb resource`, successes (code 200) apart from failures. */
export function apiCounts(samples: readonly MetricSample[]): ApiCounts {
  const counts: ApiCounts = new Map();
  for (const s of samples.filter((x) => x.name === 'kubevmm_api_requests_total')) {
    const key = `${s.labels.verb ?? '?'} ${s.labels.resource ?? '?'}`;
    const entry = counts.get(key) ?? { ok: 0, failed: 0 };
    if (s.labels.code === '200') entry.ok += s.value;
    else entry.failed += s.value;
    counts.set(key, entry);
  }
  return counts;
}

/** `after - before`, key by key (a counter delta over one phase). */
export function diffCounts(after: ApiCounts, before: ApiCounts): ApiCounts {
  const out: ApiCounts = new Map();
  for (const [key, a] of after) {
    const b = before.get(key) ?? { ok: 0, failed: 0 };
    const d = { ok: a.ok - b.ok, failed: a.failed - b.failed };
    if (d.ok || d.failed) out.set(key, d);
  }
  return out;
}

/** Write totals of a set of counts: all writes, Events alone, and writes other than Events. */
export function writeTotals(counts: ApiCounts): { all: number; events: number; withoutEvents: number } {
  let all = 0;
  let events = 0;
  for (const [key, c] of counts) {
    const [verb, resource] = key.split(' ');
    if (!WRITE_VERBS.includes(verb ?? '')) continue;
    all += c.ok + c.failed;
    if (resource === 'events') events += c.ok + c.failed;
  }
  return { all, events, withoutEvents: all - events };
}

/** Sum of every sample of a metric name, optionally only those whose labels match. */
export function metricSum(samples: readonly MetricSample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}
