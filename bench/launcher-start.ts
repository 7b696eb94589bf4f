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
import type { LauncherVm } from '../api/resolve.js';
import { startLauncher } from '../launcher/main.js';
import { RUNTIME_FILES } from '../launcher/qemu/index.js';
import { buildGuest, QEMU, requireQemu } from '../harness/guest.js';
import { bareArgv, commandLine, endProcess, qmpCont, resetSerialLog, spawnBare, type BareMode } from './lib/bare.js';
import { load1, machineLine } from './lib/env.js';
import { waitForMarker } from './lib/serial.js';
import { formatSummary, formatTable, intFlag, summarize } from './lib/stats.js';
import { benchVm, shapeLabel, type VmShape } from './lib/vm.js';

/** The VM every run boots: small, so TCG boots it quickly. */
const SHAPE: VmShape = { vcpus: 1, memory: '128Mi', graphics: 'none' };
const BOOTED = 'KUBEVMM-GUEST booted';
const BOOT_TIMEOUT_MS = 120_000;

/** Milliseconds from the start of one run to each milestone (NaN: not applicable). */
interface Sample {
  variant: Variant;
  spawned: number;
  running: number;
  booted: number;
  load: number;
}

type Variant = 'launcher' | BareMode;

const VARIANTS: readonly Variant[] = ['launcher', 'no-S', 'qmp-cont'];
const LABELS: Record<Variant, string> = {
  launcher: 'launcher (startLauncher)',
  'no-S': 'bare QEMU, -S removed',
  'qmp-cont': 'bare QEMU, -S + QMP cont',
};

interface Context {
  vm: LauncherVm;
  image: string;
  work: string;
  /** The warm-up run's runtime directory: its cidata ISO and socket paths serve the bare runs. */
  bareDir: string;
  argv: string[];
}

/** One launcher run in a fresh runtime directory, as `kubevmm play` does. */
async function launcherRun(ctx: Pick<Context, 'vm' | 'image' | 'work'>, keepDir = false): Promise<{ sample: Sample; dir: string; argv: string[] }> {
  const dir = await mkdtemp(join(ctx.work, 'l-'));
  const load = load1();
  const t0 = performance.now();
  const handle = await startLauncher({ vm: ctx.vm, accel: 'tcg', runtimeDir: dir, disks: { root: ctx.image } });
  const spawned = performance.now() - t0;
  const argv = handle.pid ? await commandLine(handle.pid) : [];
  try {
    await handle.started;
    const running = performance.now() - t0;
    const booted = (await waitForMarker({ path: handle.serialLog, marker: BOOTED, timeoutMs: BOOT_TIMEOUT_MS, gone: handle.done })) - t0;
    return { sample: { variant: 'launcher', spawned, running, booted, load }, dir, argv };
  } finally {
    if (handle.pid) process.kill(handle.pid, 'SIGTERM');
    await handle.done;
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  }
}

/** One bare QEMU run with the launcher's argv, in the warm-up run's directory. */
async function bareRun(ctx: Context, mode: BareMode): Promise<Sample> {
  const serialLog = join(ctx.bareDir, RUNTIME_FILES.serialLog);
  await resetSerialLog(serialLog);
  const load = load1();
  const t0 = performance.now();
  const qemu = spawnBare(ctx.argv[0] ?? QEMU, bareArgv(ctx.argv, mode));
  try {
    const running = mode === 'qmp-cont' ? (await qmpCont(join(ctx.bareDir, RUNTIME_FILES.qmp), BOOT_TIMEOUT_MS)) - t0 : NaN;
    const booted = (await waitForMarker({ path: serialLog, marker: BOOTED, timeoutMs: BOOT_TIMEOUT_MS, gone: qemu.exited })) - t0;
    return { variant: mode, spawned: NaN, running, booted, load };
  } finally {
    await endProcess(qemu.child, qemu.exited);
  }
}

/** The variants in a different order each round, so none always runs first after a pause. */
function rotate<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

async function runOnce(ctx: Context, variant: Variant): Promise<Sample> {
  return variant === 'launcher' ? (await launcherRun(ctx)).sample : bareRun(ctx, variant);
}

/** Median of the per-round differences launcher - other, for one milestone. */
function pairedDelta(samples: readonly Sample[], other: Variant, key: 'running' | 'booted'): string {
  const launcher = samples.filter((s) => s.variant === 'launcher');
  const bare = samples.filter((s) => s.variant === other);
  // Every round holds one sample of each variant, so the i-th of each are from the same round.
  const deltas = launcher.map((s, i) => s[key] - (bare[i]?.[key] ?? NaN));
  return formatSummary(summarize(deltas));
}

function ratio(samples: readonly Sample[], other: Variant, key: 'running' | 'booted'): string {
  const med = (v: Variant) => summarize(samples.filter((s) => s.variant === v).map((s) => s[key])).median;
  const r = med('launcher') / med(other);
  return Number.isFinite(r) ? r.toFixed(3) : '-';
}

function report(samples: readonly Sample[], runs: number): string {
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
    const warm = await launcherRun({ vm, image, work }, true);
    const ctx: Context = { vm, image, work, bareDir: warm.dir, argv: warm.argv };
    const samples: Sample[] = [];
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
