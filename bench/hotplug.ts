/**
 * Hotplugged disks against the same file attached at boot, measured inside the guest.
 *
 * `npx tsx bench/hotplug.ts [--runs N] [--seconds S] [--cycles C] [--size-mib M] [--cases boot,file,nbd]`
 * (defaults 3, 5, 5, 256, all three). One data file of M MiB (random bytes) reaches the
 * fixture guest three ways: as a virtio disk at boot; hotplugged as a local file
 * (`handle.attach({name, path})`); hotplugged from an NBD export (`launcher export` in its own
 * process, TLS-PSK, `handle.attach({name, nbd})`). The guest's `diskbench` (QD1, O_DIRECT)
 * runs 4k random read and write and 1M sequential read and write for S seconds each, started
 * the same way in every case (the `diskbench=` user-data switch: it runs on a matching disk
 * whether present at boot or hotplugged). Each round boots one VM with the disk and one
 * without, which gets the file and NBD cases plus C attach/detach cycles of each; the order
 * alternates between rounds. Launchers run in this process, QEMU under TCG. Prints figures;
 * asserts nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NBD_EXPORT } from '../api/layout.js';
import type { AttachRequest } from '../launcher/main.js';
import { buildGuest, requireQemu } from '../harness/guest.js';
import { load1, machineLine } from './lib/env.js';
import { startExport, writePskFile, type NbdExport } from './lib/hotplug-export.js';
import { parseFailures, parseResults, standardJobs, type DiskbenchJob, type DiskbenchResult } from './lib/hotplug-guest.js';
import { CASE_LABELS, latencyTable, loadLine, ratioTable, throughputTable, type CaseRun, type Cycle, type DiskCase, type HotKind } from './lib/hotplug-report.js';
import { BENCH_PREFIX, BENCH_SHAPE, BOOT_DISK, PROBE_PREFIX, hotplugBenchVm, makeDataFile, startBenchVm, stopBenchVm, type BenchVm } from './lib/hotplug-vm.js';
import { intFlag } from './lib/stats.js';

const SEEN_TIMEOUT_MS = 60_000;

interface Settings {
  runs: number;
  seconds: number;
  cycles: number;
  sizeMib: number;
  cases: DiskCase[];
}

interface Context extends Settings {
  image: string;
  work: string;
  /** `<work>/data/disk.img`: the one data file every case uses. */
  dataFile: string;
  pskFile: string;
  jobs: DiskbenchJob[];
  runsDone: CaseRun[];
  cycles_: Cycle[];
}

function casesFlag(argv: readonly string[]): DiskCase[] {
  const i = argv.indexOf('--cases');
  if (i < 0) return ['boot', 'file', 'nbd'];
  const cases = (argv[i + 1] ?? '').split(',').filter(Boolean);
  const bad = cases.filter((c) => !(c in CASE_LABELS));
  if (bad.length || !cases.includes('boot')) {
    throw new Error(`--cases ${argv[i + 1] ?? ''}: a comma-separated list of boot, file, nbd that includes boot (the reference)`);
  }
  return cases as DiskCase[];
}

function settings(argv: readonly string[]): Settings {
  return {
    runs: intFlag(argv, 'runs', 3),
    seconds: intFlag(argv, 'seconds', 5),
    cycles: intFlag(argv, 'cycles', 5),
    sizeMib: intFlag(argv, 'size-mib', 256),
    cases: casesFlag(argv),
  };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Wait for the guest to find the disk `name`, run every job on it and report done. */
async function guestJobs(ctx: Context, vm: BenchVm, name: string): Promise<DiskbenchResult[]> {
  const found = await vm.serial.waitFor(new RegExp(`KUBEVMM-GUEST diskbench-found dev=(\\S+) serial=${escape(name)} `), SEEN_TIMEOUT_MS);
  const dev = found.match[1]!;
  const budgetMs = ctx.jobs.length * ctx.seconds * 1000 * 3 + 60_000;
  const done = await vm.serial.waitFor(new RegExp(`KUBEVMM-GUEST diskbench-done dev=${escape(dev)}\\r?\\n`), budgetMs);
  const failures = parseFailures(done.skipped);
  if (failures.length) throw new Error(`diskbench failed on ${name}:\n${failures.join('\n')}`);
  const results = parseResults(done.skipped).filter((r) => r.dev === dev);
  if (results.length !== ctx.jobs.length) throw new Error(`diskbench on ${name}: ${results.length} results for ${ctx.jobs.length} jobs:\n${done.skipped.slice(-1500)}`);
  return results;
}

function logRun(run: CaseRun): void {
  const parts = run.results.map((r) => `${r.mode} ${r.bs >= 1 << 20 ? `${((r.bytes * 1e6) / r.usec / 2 ** 20).toFixed(1)} MiB/s` : `${((r.ops * 1e6) / r.usec).toFixed(0)} IOPS`}`);
  console.error(`round ${run.round} ${run.diskCase}: ${parts.join(', ')} (load ${run.load.toFixed(2)})`);
}

/** The boot case: a VM with the data file as a virtio disk from the start. */
async function bootCase(ctx: Context, round: number): Promise<void> {
  const load = load1();
  const vm = await startBenchVm({ vm: hotplugBenchVm('hp-boot', ctx.jobs, true), image: ctx.image, work: ctx.work, disks: { [BOOT_DISK]: ctx.dataFile } });
  try {
    const run: CaseRun = { diskCase: 'boot', round, results: await guestJobs(ctx, vm, BOOT_DISK), load };
    ctx.runsDone.push(run);
    logRun(run);
  } finally {
    await stopBenchVm(vm);
  }
}

/** What `handle.attach` gets for one hotplugged disk. */
type Source = (name: string) => AttachRequest;

/** Attach, wait for the guest to see it; detach, wait for the guest to see it gone. */
async function cycle(vm: BenchVm, kind: HotKind, name: string, source: Source): Promise<Cycle> {
  const seen = vm.serial.waitFor(new RegExp(`KUBEVMM-GUEST diskbench-found dev=(\\S+) serial=${escape(name)} `), SEEN_TIMEOUT_MS);
  seen.catch(() => undefined);
  const t0 = performance.now();
  await vm.handle.attach(source(name));
  const attachMs = performance.now() - t0;
  const found = await seen;
  const dev = found.match[1]!;
  const gone = vm.serial.waitFor(new RegExp(`KUBEVMM-GUEST diskbench-gone dev=${escape(dev)}\\r?\\n`), SEEN_TIMEOUT_MS);
  gone.catch(() => undefined);
  const t1 = performance.now();
  await vm.handle.detach(name);
  const detachMs = performance.now() - t1;
  return { kind, attachMs, seenMs: found.at - t0, detachMs, goneMs: (await gone).at - t1 };
}

/** One hotplugged case: the jobs on `bench-<kind>`, then the latency cycles on `probe-<kind>-<i>`. */
async function hotCase(ctx: Context, vm: BenchVm, kind: HotKind, round: number, source: Source): Promise<void> {
  const load = load1();
  const name = `${BENCH_PREFIX}-${kind}`;
  await vm.handle.attach(source(name));
  const run: CaseRun = { diskCase: kind, round, results: await guestJobs(ctx, vm, name), load };
  ctx.runsDone.push(run);
  logRun(run);
  await vm.handle.detach(name);
  for (let i = 1; i <= ctx.cycles; i++) {
    const c = await cycle(vm, kind, `${PROBE_PREFIX}-${kind}-${round}-${i}`, source);
    ctx.cycles_.push(c);
    console.error(`round ${round} ${kind} cycle ${i}: attach ${c.attachMs.toFixed(0)} ms, seen ${c.seenMs.toFixed(0)} ms, detach ${c.detachMs.toFixed(0)} ms, gone ${c.goneMs.toFixed(0)} ms`);
  }
}

/** The NBD case around its exporter: the export holds the file's lock only while it runs. */
async function nbdCase(ctx: Context, vm: BenchVm, round: number): Promise<void> {
  let exporter: NbdExport | undefined;
  try {
    exporter = await startExport({ sourceDir: dirname(ctx.dataFile), pskDir: dirname(ctx.pskFile) });
    const port = exporter.port;
    await hotCase(ctx, vm, 'nbd', round, (name) => ({ name, nbd: { host: '127.0.0.1', port, export: NBD_EXPORT.name } }));
  } finally {
    await exporter?.stop();
  }
}

/** The hotplug VM: boots without the data disk, then gets each hotplugged case in turn. */
async function hotVm(ctx: Context, round: number, kinds: readonly HotKind[]): Promise<void> {
  const vm = await startBenchVm({ vm: hotplugBenchVm('hp-hot', ctx.jobs, false), image: ctx.image, work: ctx.work, extra: { pskFile: ctx.pskFile } });
  try {
    for (const kind of kinds) {
      if (kind === 'file') await hotCase(ctx, vm, 'file', round, (name) => ({ name, path: ctx.dataFile }));
      else await nbdCase(ctx, vm, round);
    }
  } finally {
    await stopBenchVm(vm);
  }
}

async function round(ctx: Context, n: number): Promise<void> {
  const hot = ctx.cases.filter((c): c is HotKind => c !== 'boot');
  const kinds = n % 2 ? hot : [...hot].reverse();
  const steps = [() => bootCase(ctx, n), () => (kinds.length ? hotVm(ctx, n, kinds) : Promise.resolve())];
  for (const step of n % 2 ? steps : [...steps].reverse()) await step();
}

function report(ctx: Context): string {
  const hot = ctx.cases.filter((c): c is HotKind => c !== 'boot');
  return [
    `guest-side figures (diskbench in the guest, QD1, O_DIRECT; ${ctx.seconds} s per job; ${ctx.sizeMib} MiB data file); median (min–max) over ${ctx.runs} rounds; load average 1 min at the start of the cases: ${loadLine(ctx.runsDone)}`,
    'TCG: absolute numbers are those of an emulated CPU on 2 shared cores; compare the ratios, measured in the same process.',
    '',
    throughputTable(ctx.runsDone, ctx.cases),
    '',
    ...(hot.length ? [ratioTable(ctx.runsDone, hot), '', `attach/detach latency, ms (${ctx.cycles} cycles per round and kind; the guest polls /sys/block every 10 ms, the serial log is read every 10 ms):`, '', latencyTable(ctx.cycles_, hot)] : []),
  ].join('\n');
}

async function main(): Promise<void> {
  const s = settings(process.argv.slice(2));
  await requireQemu();
  const image = await buildGuest();
  const work = await mkdtemp(join(tmpdir(), 'kvb-hotplug-'));
  try {
    console.log(`hotplug: ${await machineLine()}`);
    console.log(`VM: ${BENCH_SHAPE.vcpus} vCPU ${BENCH_SHAPE.memory}, no NIC, fixture guest; cases: ${s.cases.map((c) => CASE_LABELS[c]).join('; ')}`);
    const dataFile = await makeDataFile(join(work, 'data'), s.sizeMib);
    const pskFile = await writePskFile(join(work, 'psk'));
    const ctx: Context = { ...s, image, work, dataFile, pskFile, jobs: standardJobs(s.seconds), runsDone: [], cycles_: [] };
    for (let n = 1; n <= s.runs; n++) await round(ctx, n);
    console.log(`\n${report(ctx)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
