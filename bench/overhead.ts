/**
 * Per-VM memory overhead: what the launcher pod holds beyond guest RAM, against the
 * renderer's formula (operator/render/overhead.ts) and KubeVirt's fixed cost.
 *
 * `npx tsx bench/overhead.ts [--runs N] [--settle S] [--loader tsx|bundle] [--skip-flags]`
 * Runs the launcher as its own process (`launcher run` with the control API, as in a pod),
 * boots the fixture guest under TCG and reads /proc at the guest's `ready` line: the
 * launcher's RSS, and QEMU's RSS split with /proc/<pid>/smaps into guest RAM and QEMU's own
 * memory. Then the launcher alone under a few Node memory flags. Prints figures; asserts nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryOverhead, OVERHEAD } from '../operator/render/overhead.js';
import { buildGuest, requireQemu } from '../harness/guest.js';
import { machineLine } from './lib/env.js';
import { bundleLauncher, type Loader } from './lib/launcher-process.js';
import { anonOverhead, measuredOverhead, measureOnce, qemuBeyondGuest, type Measurement } from './lib/measure.js';
import { formatSummary, formatTable, intFlag, summarize } from './lib/stats.js';
import { benchVm, shapeLabel, type VmShape } from './lib/vm.js';

const MiB = 2 ** 20;
/** KubeVirt's virt-launcher, measured per VM: a fixed cost whatever the VM's size. */
const KUBEVIRT_MIB = 230;

/** The VMs measured; 1 and 4 vCPUs at the same memory give the per-vCPU slope. */
const SHAPES: readonly VmShape[] = [
  { vcpus: 1, memory: '128Mi', graphics: 'none' },
  { vcpus: 2, memory: '256Mi', graphics: 'vnc' },
  { vcpus: 2, memory: '512Mi', graphics: 'none' },
  { vcpus: 4, memory: '128Mi', graphics: 'none' },
];

/** Ways to run the launcher's Node process, measured on the first shape. */
const NODE_VARIANTS: readonly { loader: Loader; flags: string[] }[] = [
  { loader: 'tsx', flags: [] },
  { loader: 'bundle', flags: [] },
  { loader: 'bundle', flags: ['--max-old-space-size=64'] },
  { loader: 'bundle', flags: ['--max-old-space-size=32'] },
  { loader: 'bundle', flags: ['--max-old-space-size=16'] },
  { loader: 'bundle', flags: ['--max-old-space-size=32', '--max-semi-space-size=1'] },
  { loader: 'bundle', flags: ['--max-old-space-size=32', '--max-semi-space-size=1', '--jitless'] },
];

interface Settings {
  runs: number;
  settleMs: number;
  loader: Loader;
  skipFlags: boolean;
  image: string;
  work: string;
  bundle: string;
}

/** MiB figures of a list of measurements: `median (min–max)`. */
function mib(ms: readonly Measurement[], pick: (m: Measurement) => number, decimals = 1): string {
  return formatSummary(summarize(ms.map((m) => pick(m) / MiB)), decimals);
}

function medianMiB(ms: readonly Measurement[], pick: (m: Measurement) => number): number {
  return summarize(ms.map((m) => pick(m) / MiB)).median;
}

function qemuTable(results: ReadonlyMap<VmShape, Measurement[]>): string {
  const rows = [...results].map(([shape, ms]) => [
    shapeLabel(shape),
    mib(ms, (m) => m.qemu.total.rss),
    `${mib(ms, (m) => m.qemu.guestRam.rss)} of ${(ms[0]?.qemu.guestRam.size ?? NaN) / MiB}`,
    mib(ms, qemuBeyondGuest),
    mib(ms, (m) => m.qemu.tcgCache.rss),
    `${mib(ms, (m) => m.qemu.otherRamBlocks.rss)} of ${((ms[0]?.qemu.otherRamBlocks.size ?? NaN) / MiB).toFixed(1)}`,
    mib(ms, (m) => m.qemu.otherAnon.rss),
    mib(ms, (m) => m.qemu.file.rss),
    mib(ms, (m) => m.qemu.total.pageTables, 2),
    formatSummary(summarize(ms.map((m) => m.qemu.total.threads))),
  ]);
  const headers = ['VM', 'QEMU RSS', 'guest RAM RSS', 'QEMU beyond guest', 'TCG cache', 'other RAM blocks', 'other anon', 'binary+libs', 'page tables', 'threads'];
  return formatTable(headers, rows);
}

function overheadTable(results: ReadonlyMap<VmShape, Measurement[]>): string {
  const rows = [...results].map(([shape, ms]) => {
    const formula = memoryOverhead(benchVm('formula', shape), true) / MiB;
    const measured = medianMiB(ms, measuredOverhead);
    return [
      shapeLabel(shape),
      mib(ms, (m) => m.launcher.rss + m.helpers),
      mib(ms, qemuBeyondGuest),
      mib(ms, (m) => m.launcher.pageTables + m.qemu.total.pageTables, 2),
      mib(ms, measuredOverhead),
      mib(ms, anonOverhead),
      String(formula),
      (measured / formula).toFixed(2),
      (measured / KUBEVIRT_MIB).toFixed(2),
    ];
  });
  const headers = ['VM', 'launcher RSS', 'QEMU beyond guest', 'page tables', 'measured overhead', 'anon only', 'formula', 'measured/formula', `measured/KubeVirt ${KUBEVIRT_MIB}`];
  return formatTable(headers, rows);
}

function variantsTable(results: ReadonlyMap<string, Measurement[]>): string {
  const rows = [...results].map(([label, ms]) => [
    label,
    mib(ms, (m) => m.launcher.rss),
    mib(ms, (m) => m.launcherSettled.rss),
    mib(ms, (m) => m.launcher.rssAnon),
    mib(ms, (m) => m.launcher.rssFile),
    mib(ms, (m) => m.launcher.pageTables, 2),
    mib(ms, (m) => m.helpers),
    formatSummary(summarize(ms.map((m) => m.launcher.threads))),
  ]);
  return formatTable(['launcher process', 'RSS at ready', 'RSS settled', 'anon', 'file', 'page tables', 'other children', 'threads'], rows);
}

/** Derived per-vCPU cost: QEMU's anonymous memory beyond guest, 1 vs 4 vCPUs at the same memory. */
function perVcpuLine(results: ReadonlyMap<VmShape, Measurement[]>): string {
  const find = (vcpus: number) => [...results].find(([s]) => s.vcpus === vcpus && s.memory === '128Mi')?.[1] ?? [];
  const own = (m: Measurement) => m.qemu.otherAnon.rss + m.qemu.total.pageTables;
  const [one, four] = [medianMiB(find(1), own), medianMiB(find(4), own)];
  const tcg = [medianMiB(find(1), (m) => m.qemu.tcgCache.rss), medianMiB(find(4), (m) => m.qemu.tcgCache.rss)];
  return (
    `per vCPU (QEMU other anon + page tables, 1 -> 4 vCPUs at 128Mi): ${((four - one) / 3).toFixed(2)} MiB/vCPU ` +
    `(${one.toFixed(1)} -> ${four.toFixed(1)} MiB); TCG cache ${tcg.map((t) => t.toFixed(1)).join(' -> ')} MiB`
  );
}

async function measureShapes(s: Settings): Promise<Map<VmShape, Measurement[]>> {
  const results = new Map<VmShape, Measurement[]>(SHAPES.map((shape) => [shape, []]));
  for (let round = 1; round <= s.runs; round++) {
    for (const shape of SHAPES) {
      const vm = benchVm(`ovh${shape.vcpus}c`, shape);
      const m = await measureOnce({ vm, image: s.image, work: s.work, settleMs: s.settleMs, loader: s.loader, bundle: s.bundle, nodeFlags: [] });
      results.get(shape)!.push(m);
      console.error(`round ${round}/${s.runs} ${shapeLabel(shape)}: launcher ${(m.launcher.rss / MiB).toFixed(1)} MiB, QEMU beyond guest ${(qemuBeyondGuest(m) / MiB).toFixed(1)} MiB`);
    }
  }
  return results;
}

async function measureVariants(s: Settings): Promise<Map<string, Measurement[]>> {
  const label = (v: (typeof NODE_VARIANTS)[number]) => `${v.loader} ${v.flags.join(' ') || '(default flags)'}`;
  const results = new Map<string, Measurement[]>(NODE_VARIANTS.map((v) => [label(v), []]));
  const vm = benchVm('ovhnode', SHAPES[0]!);
  for (let round = 1; round <= s.runs; round++) {
    for (const v of NODE_VARIANTS) {
      const m = await measureOnce({ vm, image: s.image, work: s.work, settleMs: s.settleMs, loader: v.loader, bundle: s.bundle, nodeFlags: v.flags });
      results.get(label(v))!.push(m);
      console.error(`round ${round}/${s.runs} ${label(v)}: launcher ${(m.launcher.rss / MiB).toFixed(1)} MiB`);
    }
  }
  return results;
}

function formulaLine(): string {
  const o = OVERHEAD;
  return `formula (operator/render/overhead.ts): launcher ${o.launcher / MiB} + QEMU ${o.qemu / MiB} + ${o.perVcpu / MiB}/vCPU + guest/${o.pageTableDivisor} + ${o.video / MiB} vnc + ${o.tcg / MiB} TCG (MiB)`;
}

async function settings(argv: readonly string[]): Promise<Settings> {
  const loaderAt = argv.indexOf('--loader');
  const loader = loaderAt >= 0 ? argv[loaderAt + 1] : 'bundle';
  if (loader !== 'tsx' && loader !== 'bundle') throw new Error(`--loader tsx|bundle, got ${loader ?? 'nothing'}`);
  await requireQemu();
  const work = await mkdtemp(join(tmpdir(), 'kvb-ovh-'));
  return {
    runs: intFlag(argv, 'runs', 3),
    settleMs: intFlag(argv, 'settle', 5) * 1000,
    loader,
    skipFlags: argv.includes('--skip-flags'),
    image: await buildGuest(),
    work,
    bundle: await bundleLauncher(work),
  };
}

async function main(): Promise<void> {
  const s = await settings(process.argv.slice(2));
  try {
    console.log(`overhead: ${await machineLine()}`);
    console.log(`launcher process: ${s.loader}, measured at "KUBEVMM-GUEST ready" (settled: ${s.settleMs / 1000} s later); ${s.runs} runs per row; MiB, median (min–max)`);
    const shapes = await measureShapes(s);
    console.log(`\nQEMU memory at ready (smaps; "of" = mapped size)\n\n${qemuTable(shapes)}`);
    console.log(`\nPer-VM overhead vs the renderer's formula (TCG) and KubeVirt's ~${KUBEVIRT_MIB} MiB\n\n${overheadTable(shapes)}`);
    console.log(`\n${formulaLine()}\n${perVcpuLine(shapes)}`);
    if (!s.skipFlags) {
      const variants = await measureVariants(s);
      console.log(`\nThe launcher's Node process (VM: ${shapeLabel(SHAPES[0]!)})\n\n${variantsTable(variants)}`);
    }
  } finally {
    await rm(s.work, { recursive: true, force: true });
  }
}

await main();
