/**
 * Launcher start-up against bare QEMU with the same command line.
 *
 * `npx tsx bench/launcher-start.ts [--runs N]` (default 5). One warm-up launcher run gives the
 * exact argv QEMU was started with; then, in this process, N rounds of launcher / bare QEMU
 * without `-S` / bare QEMU with `-S` and a minimal QMP `cont`, interleaved, so that load from
 * other processes hits every variant alike. Times are from the launcher call (or the spawn)
 * to the guest running (QMP RESUME: `handle.started`) and to the guest's first serial line
 * (`KUBEVMM-GUEST booted`). After the marker QEMU gets SIGTERM. Prints figures; asserts nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuest, requireQemu } from '../harness/guest.js';
import type { BareMode } from './lib/bare.js';
import { machineLine } from './lib/env.js';
import { bareRun, launcherRun, type StartContext, type StartSample } from './lib/start-runs.js';
import { formatSummary, formatTable, intFlag, summarize } from './lib/stats.js';
import { benchVm, shapeLabel, type VmShape } from './lib/vm.js';

/** The VM every run boots: small, so TCG boots it quickly. */
const SHAPE: VmShape = { vcpus: 1, memory: '128Mi', graphics: 'none' };
const BOOTED = 'KUBEVMM-GUEST booted';

type Variant = 'launcher' | BareMode;

const VARIANTS: readonly Variant[] = ['launcher', 'no-S', 'qmp-cont'];
const LABELS: Record<Variant, string> = {
  launcher: 'launcher (startLauncher)',
  'no-S': 'bare QEMU, -S removed',
  'qmp-cont': 'bare QEMU, -S + QMP cont',
};

/** The variants in a different order each round, so none always runs first after a pause. */
function rotate<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

async function runOnce(ctx: StartContext, variant: Variant): Promise<StartSample> {
  return variant === 'launcher' ? (await launcherRun(ctx)).sample : bareRun(ctx, variant);
}

/** Median of the per-round differences launcher - other, for one milestone. */
function pairedDelta(samples: readonly StartSample[], other: Variant, key: 'running' | 'booted'): string {
  const launcher = samples.filter((s) => s.variant === 'launcher');
  const bare = samples.filter((s) => s.variant === other);
  // Every round holds one sample of each variant, so the i-th of each are from the same round.
  const deltas = launcher.map((s, i) => s[key] - (bare[i]?.[key] ?? NaN));
  return formatSummary(summarize(deltas));
}

function ratio(samples: readonly StartSample[], other: Variant, key: 'running' | 'booted'): string {
  const med = (v: Variant) => summarize(samples.filter((s) => s.variant === v).map((s) => s[key])).median;
  const r = med('launcher') / med(other);
  return Number.isFinite(r) ? r.toFixed(3) : '-';
}

function report(samples: readonly StartSample[], runs: number): string {
  const of = (v: Variant, key: 'spawned' | 'running' | 'booted') => formatSummary(summarize(samples.filter((s) => s.variant === v).map((s) => s[key])));
  const times = formatTable(
    ['variant', 'QEMU spawned', 'guest running (RESUME)', `"${BOOTED}"`],
    VARIANTS.map((v) => [LABELS[v], of(v, 'spawned'), of(v, 'running'), of(v, 'booted')]),
  );
  const ratios = formatTable(
    ['launcher vs', 'ratio of medians, running', 'ratio of medians, booted', 'paired delta ms, running', 'paired delta ms, booted'],
    (['no-S', 'qmp-cont'] as const).map((v) => [LABELS[v], ratio(samples, v, 'running'), ratio(samples, v, 'booted'), pairedDelta(samples, v, 'running'), pairedDelta(samples, v, 'booted')]),
  );
  const load = formatSummary(summarize(samples.map((s) => s.load)), 2);
  return [
    `ms from the start call (launcher) or the spawn (bare): median (min–max), ${runs} interleaved runs each; load average 1 min during runs: ${load}`,
    '',
    times,
    '',
    'launcher / bare (goal: booted ratio <= 1.1); paired delta = median over rounds of launcher - bare in the same round',
    '',
    ratios,
  ].join('\n');
}

async function main(): Promise<void> {
  const runs = intFlag(process.argv.slice(2), 'runs', 5);
  await requireQemu();
  const image = await buildGuest();
  const vm = benchVm('start', SHAPE);
  const work = await mkdtemp(join(tmpdir(), 'kvb-start-'));
  try {
    console.log(`launcher-start: ${await machineLine()}`);
    console.log(`VM: ${shapeLabel(SHAPE)}, fixture guest, cloud-init ISO, one virtio-net NIC; warm-up run...`);
    const warm = await launcherRun({ vm, image, work, marker: BOOTED }, true);
    const ctx: StartContext = { vm, image, work, marker: BOOTED, bareDir: warm.dir, argv: warm.argv };
    const samples: StartSample[] = [];
    for (let round = 1; round <= runs; round++) {
      for (const variant of rotate(VARIANTS, round)) {
        const sample = await runOnce(ctx, variant);
        samples.push(sample);
        console.error(`round ${round}/${runs} ${variant}: running ${sample.running.toFixed(0)} ms, booted ${sample.booted.toFixed(0)} ms (load ${sample.load.toFixed(2)})`);
      }
    }
    console.log(`\n${report(samples, runs)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
