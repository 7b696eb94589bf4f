/**
 * The operator at scale: N VirtualMachines created as fast as the API takes them, against a
 * real control plane with KWOK nodes (test/cluster), the operator as its own process.
 *
 * `npx tsx bench/operator-scale.ts [--counts 100,1000] [--nodes K] [--workers W] [--concurrency C] [--timeout S]
 *   [--probe-calls M | --skip-probe] [--loader bundle|tsx] [--operator-bundle FILE] [--operator-log FILE]`
 *
 * Needs $KUBECONFIG (and kubectl on PATH) of a cluster of its own: see bench/README.md. For each
 * N: enough fake nodes (N/200 + 1 unless --nodes), a fresh namespace, the operator started
 * (`--no-leader-elect --accelerator tcg --workers W`; by default its esbuild bundle, as the
 * image runs it), N VMs created with C requests in flight,
 * then watches in this process time each VM's launcher pod (ADDED), its readiness (KWOK) and the
 * VM's Running status. The operator's /metrics give its API requests (writes per VM, Events
 * apart); /proc gives its CPU time and peak RSS. The namespace is deleted (with the operator
 * still running, for the finalizers) before the next N. First, a probe times M sequential GETs
 * through client-node (a TLS handshake per call), client-node with useKeepAlive and a keep-alive
 * agent. Prints figures;
 * asserts nothing.
 */
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { applyCrds, connect, createNamespace, deleteNamespace, deleteNodes, ensureNodes, PODS_PER_NODE, type Cluster } from './lib/operator-scale-cluster.js';
import { createVms, trackNamespace } from './lib/operator-scale-load.js';
import { apiCounts, buildOperatorBundle, diffCounts, metricSum, scrape, startOperator, type ApiCounts, type OperatorHandle, type OperatorLoader } from './lib/operator-scale-operator.js';
import { callCostTable, probeCallCost } from './lib/operator-scale-probe.js';
import { componentPids, cpuOf, sampleProcess } from './lib/operator-scale-proc.js';
import { goalsTable, requestsTable, runTable, summaryTable, type RunResult } from './lib/operator-scale-report.js';
import { intFlag } from './lib/stats.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Settings {
  counts: number[];
  /** Fake nodes to have; undefined: N/200 + 1 for each N. */
  nodes: number | undefined;
  workers: number;
  concurrency: number;
  timeoutMs: number;
  /** Sequential GETs per variant of the call-cost probe; 0 skips it. */
  probeCalls: number;
  loader: OperatorLoader;
  /** A prebuilt operator bundle to run instead of building one (e.g. an older commit's, for a before/after). */
  operatorBundle?: string;
  /** Append the operator's log lines to this file. */
  operatorLog?: string;
}

function parseSettings(argv: readonly string[]): Settings {
  const i = argv.indexOf('--counts');
  const counts = i < 0 ? [100, 1000] : (argv[i + 1] ?? '').split(',').map(Number);
  if (!counts.length || counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--counts wants positive integers like 100,1000, got ${argv[i + 1] ?? 'nothing'}`);
  return {
    counts,
    nodes: argv.includes('--nodes') ? intFlag(argv, 'nodes', 1) : undefined,
    workers: intFlag(argv, 'workers', 4),
    concurrency: intFlag(argv, 'concurrency', 20),
    timeoutMs: intFlag(argv, 'timeout', 900) * 1000,
    probeCalls: argv.includes('--skip-probe') ? 0 : intFlag(argv, 'probe-calls', 200),
    loader: loaderFlag(argv),
    ...(argv.includes('--operator-bundle') ? { operatorBundle: argv[argv.indexOf('--operator-bundle') + 1] ?? '' } : {}),
    ...(argv.includes('--operator-log') ? { operatorLog: argv[argv.indexOf('--operator-log') + 1] ?? '' } : {}),
  };
}

function loaderFlag(argv: readonly string[]): OperatorLoader {
  const i = argv.indexOf('--loader');
  if (i < 0) return 'bundle';
  const value = argv[i + 1];
  if (value !== 'bundle' && value !== 'tsx') throw new Error(`--loader wants bundle or tsx, got ${value ?? 'nothing'}`);
  return value;
}

const loadLine = () => loadavg().map((l) => l.toFixed(2)).join(' ');

function machineLine(cluster: Cluster): string {
  return `${new Date().toISOString()} | ${cpus().length} cores | load ${loadLine()} | Node ${process.version} | API server ${cluster.server}`;
}

/** Waits until the operator is idle: queue empty and no new request or reconcile for 3 s (at most 60 s). */
async function settle(url: string): Promise<void> {
  let last = '';
  let stableFor = 0;
  for (let i = 0; i < 60 && stableFor < 3; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const samples = await scrape(url);
    const key = [metricSum(samples, 'kubevmm_api_requests_total'), metricSum(samples, 'kubevmm_reconcile_total'), metricSum(samples, 'kubevmm_workqueue_depth')].join('/');
    stableFor = key === last && metricSum(samples, 'kubevmm_workqueue_depth') === 0 ? stableFor + 1 : 0;
    last = key;
  }
}

function diffCpu(after: ReadonlyMap<string, number>, before: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...after].map(([name, sec]) => [name, sec - (before.get(name) ?? sec)]));
}

/** What the operator did over one phase, read from its /metrics and /proc. */
async function operatorState(op: OperatorHandle) {
  const samples = await scrape(op.url);
  const reconciles: Record<string, number> = {};
  for (const result of ['success', 'requeue', 'error']) reconciles[result] = metricSum(samples, 'kubevmm_reconcile_total', { result });
  const heap = { used: metricSum(samples, 'nodejs_heap_size_used_bytes'), total: metricSum(samples, 'nodejs_heap_size_total_bytes') };
  return { counts: apiCounts(samples), reconciles, heap, proc: await sampleProcess(op.pid) };
}

/** The create, watch and settle phase of one N, with the operator running. */
async function measureRun(cluster: Cluster, op: OperatorHandle, opts: { n: number; namespace: string; settings: Settings }) {
  const tracker = await trackNamespace(cluster, opts.namespace);
  const pids = await componentPids(cluster.stateDir ?? '');
  const start = await operatorState(op);
  const cpuBefore = await cpuOf(pids);
  const loadBefore = loadLine();
  const t0 = performance.now();
  const create = await createVms(cluster, { namespace: opts.namespace, count: opts.n, concurrency: opts.settings.concurrency });
  const endedAt = performance.now();
  const timedOut = !(await tracker.waitFor(() => tracker.seen.vmRunning.size >= create.created.length, opts.settings.timeoutMs));
  await settle(op.url);
  const end = await operatorState(op);
  const componentsCpu = diffCpu(await cpuOf(pids), cpuBefore);
  await tracker.stop();
  return { t0, create: { ...create, endedAt }, seen: tracker.seen, timedOut, start, end, componentsCpu, load: { before: loadBefore, after: loadLine() } };
}

/** Deletes the namespace with the operator running; the requests it made meanwhile. */
async function measureDeletion(cluster: Cluster, op: OperatorHandle, namespace: string, timeoutMs: number): Promise<{ ms: number; counts: ApiCounts; cpu: number; peakRss: number }> {
  const before = await operatorState(op);
  const ms = await deleteNamespace(cluster, namespace, timeoutMs);
  await settle(op.url);
  const after = await operatorState(op);
  const cpu = (after.proc?.cpuSeconds ?? NaN) - (before.proc?.cpuSeconds ?? NaN);
  return { ms, counts: diffCounts(after.counts, before.counts), cpu, peakRss: after.proc?.peakRss ?? NaN };
}

/** One N from a fresh namespace and a fresh operator to the namespace deleted. */
async function runOnce(cluster: Cluster, n: number, settings: Settings, bundleFile: string | undefined): Promise<RunResult> {
  const namespace = `scale-${n}-${Date.now().toString(36).slice(-5)}`;
  await createNamespace(cluster, namespace);
  const op = await startOperator({ repoRoot: REPO_ROOT, workers: settings.workers, ...(bundleFile ? { bundleFile } : {}), ...(settings.operatorLog ? { logFile: settings.operatorLog } : {}) });
  try {
    const run = await measureRun(cluster, op, { n, namespace, settings });
    console.error(`N=${n}: ${run.seen.vmRunning.size} Running; deleting ${namespace}`);
    const deletion = await measureDeletion(cluster, op, namespace, settings.timeoutMs);
    const startCpu = run.start.proc?.cpuSeconds ?? NaN;
    return {
      n,
      nodes: 0,
      // What ran, not what was asked: --operator-bundle runs the bundle even with --loader tsx.
      loader: bundleFile ? 'bundle' : 'tsx',
      workers: settings.workers,
      concurrency: settings.concurrency,
      load: run.load,
      t0: run.t0,
      create: run.create,
      seen: run.seen,
      timedOut: run.timedOut,
      requests: { run: diffCounts(run.end.counts, run.start.counts), deletion: deletion.counts },
      reconciles: Object.fromEntries(Object.entries(run.end.reconciles).map(([k, v]) => [k, v - (run.start.reconciles[k] ?? 0)])),
      operator: {
        cpuStartup: startCpu,
        cpuRun: (run.end.proc?.cpuSeconds ?? NaN) - startCpu,
        cpuDeletion: deletion.cpu,
        rssAtStart: run.start.proc?.rss ?? NaN,
        peakRss: run.end.proc?.peakRss ?? NaN,
        rssAtEnd: run.end.proc?.rss ?? NaN,
        heapUsedAtEnd: run.end.heap.used,
        heapTotalAtEnd: run.end.heap.total,
        peakRssWithDeletion: deletion.peakRss,
      },
      componentsCpu: run.componentsCpu,
      deleteMs: deletion.ms,
      logLevels: op.levels(),
      problems: op.problems(),
    };
  } finally {
    // Already gone after a full run; after a failure, deleted while the operator still runs.
    await deleteNamespace(cluster, namespace, 120_000);
    await op.stop();
  }
}

function printRun(r: RunResult): void {
  console.log(`\n### N = ${r.n} (${r.nodes} fake nodes, ${r.workers} operator workers, operator ${r.loader === 'bundle' ? 'bundled' : 'through tsx'})${r.timedOut ? ' — TIMED OUT before all VMs were Running' : ''}\n`);
  console.log(runTable(r));
  console.log(`\nOperator API requests from the first create until idle (N = ${r.n}):\n`);
  console.log(requestsTable(r.requests.run, r.n));
  console.log(`\nDuring the namespace deletion:\n`);
  console.log(requestsTable(r.requests.deletion, r.n));
  if (r.create.failed.length) console.log(`\n${r.create.failed.length} creates failed, e.g. ${r.create.failed[0]?.error ?? ''}`);
  if (r.problems.length) console.log(`\nOperator warnings/errors (first ${r.problems.length}):\n${r.problems.map((p) => `    ${p}`).join('\n')}`);
}

/** What one API call costs with client-node's connection handling and with keep-alive. */
async function printProbe(cluster: Cluster, calls: number): Promise<void> {
  const apiserverPid = (await componentPids(cluster.stateDir ?? '')).get('apiserver');
  const costs = await probeCallCost(cluster, { calls, ...(apiserverPid ? { apiserverPid } : {}) });
  console.log(`\n### Cost of one API call (${calls} sequential GETs each, load ${loadLine()})\n\n${callCostTable(costs)}`);
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const cluster = connect();
  console.log(`# operator-scale\n\n${machineLine(cluster)}`);
  await applyCrds(REPO_ROOT);
  if (settings.probeCalls) await printProbe(cluster, settings.probeCalls);
  const bundleFile = settings.operatorBundle || (settings.loader === 'bundle' ? await buildOperatorBundle() : undefined);
  if (bundleFile) console.log(`operator: node ${bundleFile}`);
  const results: RunResult[] = [];
  const createdNodes = new Set<string>();
  try {
    for (const n of settings.counts) {
      const nodes = await ensureNodes(cluster, settings.nodes ?? Math.ceil(n / PODS_PER_NODE) + 1);
      nodes.created.forEach((name) => createdNodes.add(name));
      const result = { ...(await runOnce(cluster, n, settings, bundleFile)), nodes: nodes.total };
      printRun(result);
      results.push(result);
    }
  } finally {
    await deleteNodes(cluster, [...createdNodes]);
  }
  console.log(`\n### Summary\n\n${summaryTable(results)}`);
  console.log(`\n### Goals\n\n${goalsTable(results)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
