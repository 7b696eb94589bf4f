// One VM start, through the launcher or as bare QEMU with the launcher's command line: the
// runs that bench/launcher-start.ts interleaves and bench/real-node.ts uses as its baseline.

import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LauncherVm } from '../../api/resolve.js';
import { startLauncher } from '../../launcher/main.js';
import { PROGRAMS } from '../../launcher/programs.js';
import { RUNTIME_FILES } from '../../launcher/qemu/index.js';
import { bareArgv, commandLine, endProcess, qmpCont, resetSerialLog, spawnBare, type BareMode } from './bare.js';
import { load1 } from './env.js';
import { waitForMarker } from './serial.js';

const BOOT_TIMEOUT_MS = 120_000;

/** Milliseconds from the start of one run to each milestone (NaN: not applicable). */
export interface StartSample {
  variant: 'launcher' | BareMode;
  spawned: number;
  running: number;
  /** The guest's console line `marker`. */
  booted: number;
  load: number;
}

/** What the runs boot and where. */
export interface StartContext {
  vm: LauncherVm;
  image: string;
  work: string;
  /** The console line that ends a run. */
  marker: string;
  /** The warm-up run's runtime directory: its cidata ISO and socket paths serve the bare runs. */
  bareDir: string;
  argv: string[];
}

/** One launcher run in a fresh runtime directory, as `kubevmm play` does. */
export async function launcherRun(ctx: Pick<StartContext, 'vm' | 'image' | 'work' | 'marker'>, keepDir = false): Promise<{ sample: StartSample; dir: string; argv: string[] }> {
  const dir = await mkdtemp(join(ctx.work, 'l-'));
  const load = load1();
  const t0 = performance.now();
  const handle = await startLauncher({ vm: ctx.vm, accel: 'tcg', runtimeDir: dir, disks: { root: ctx.image } });
  const spawned = performance.now() - t0;
  const argv = handle.pid ? await commandLine(handle.pid) : [];
  try {
    await handle.started;
    const running = performance.now() - t0;
    const booted = (await waitForMarker({ path: handle.serialLog, marker: ctx.marker, timeoutMs: BOOT_TIMEOUT_MS, gone: handle.done })) - t0;
    return { sample: { variant: 'launcher', spawned, running, booted, load }, dir, argv };
  } finally {
    if (handle.pid) process.kill(handle.pid, 'SIGTERM');
    await handle.done;
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  }
}

/** One bare QEMU run with the launcher's argv, in the warm-up run's directory. */
export async function bareRun(ctx: StartContext, mode: BareMode): Promise<StartSample> {
  const serialLog = join(ctx.bareDir, RUNTIME_FILES.serialLog);
  await resetSerialLog(serialLog);
  const load = load1();
  const t0 = performance.now();
  const qemu = spawnBare(ctx.argv[0] ?? PROGRAMS.qemu, bareArgv(ctx.argv, mode, serialLog));
  try {
    const running = mode === 'qmp-cont' ? (await qmpCont(join(ctx.bareDir, RUNTIME_FILES.qmp), BOOT_TIMEOUT_MS)) - t0 : NaN;
    const booted = (await waitForMarker({ path: serialLog, marker: ctx.marker, timeoutMs: BOOT_TIMEOUT_MS, gone: qemu.exited })) - t0;
    return { variant: mode, spawned: NaN, running, booted, load };
  } finally {
    await endProcess(qemu.child, qemu.exited);
  }
}
