/**
 * How fast `kubevmm` starts: `kubevmm validate FILE` against `node -e 0` (the floor any Node
 * program pays), in the same process, interleaved (the order rotates every round), so load
 * that drifts over the run hits every variant alike.
 *
 * `npx tsx bench/cli-start.ts [--runs N]`   (default 20; a few seconds per round)
 *
 * Variants, each a fresh process, wall time from spawn to exit:
 * - `node -e 0`: the baseline;
 * - `kubevmm validate examples/minimal.yaml`: bin/kubevmm.js running the bundle (dist/cli, as
 *   installed by `npm install --global`), the goal's subject;
 * - `kubevmm --help`: the entry chunk alone, no verb;
 * - the sources through tsx (`node --import tsx cli/main.ts validate ...`): how the CLI ran
 *   before it was bundled;
 * - `npx kubevmm validate ...`: through npm exec, as the README said before.
 * The bundle is built first from the current sources. Prints medians, ratios to `node -e 0`
 * (goal: validate <= 4x) and the machine line; asserts nothing.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { bundleCli, REPO_ROOT } from '../scripts/bundle.js';
import { load1, machineLine } from './lib/env.js';
import { formatSummary, formatTable, intFlag, summarize } from './lib/stats.js';

/** The goal: `kubevmm validate FILE` within this many times `node -e 0`. */
const GOAL_RATIO = 4;

interface Variant {
  name: string;
  command: string;
  args: string[];
  /** The goal applies to it. */
  goal?: boolean;
}

const FILE = join(REPO_ROOT, 'examples', 'minimal.yaml');
const BIN = join(REPO_ROOT, 'bin', 'kubevmm.js');

const VARIANTS: Variant[] = [
  { name: 'node -e 0 (baseline)', command: process.execPath, args: ['-e', '0'] },
  { name: 'kubevmm validate FILE (bundle)', command: process.execPath, args: [BIN, 'validate', FILE], goal: true },
  { name: 'kubevmm --help (bundle)', command: process.execPath, args: [BIN, '--help'] },
  { name: 'validate through tsx (before)', command: process.execPath, args: ['--import', 'tsx', join(REPO_ROOT, 'cli', 'main.ts'), 'validate', FILE] },
  { name: 'npx kubevmm validate FILE', command: 'npx', args: ['--no-install', 'kubevmm', 'validate', FILE] },
];

/** Wall time of one run in ms; throws when the command fails (a broken variant is no figure). */
function timeOnce(v: Variant): number {
  const started = performance.now();
  const r = spawnSync(v.command, v.args, { cwd: REPO_ROOT, encoding: 'utf8', env: process.env });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${v.name} exited ${String(r.status)}: ${r.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  const runs = intFlag(process.argv.slice(2), 'runs', 20);
  await bundleCli();
  console.log(`# cli-start\n\n${await machineLine()}\n`);
  const samples = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
  const loads: number[] = [];
  VARIANTS.forEach(timeOnce); // warm-up: page cache, npm's cache
  for (let round = 0; round < runs; round++) {
    loads.push(load1());
    for (let i = 0; i < VARIANTS.length; i++) {
      const v = VARIANTS[(round + i) % VARIANTS.length]!;
      samples.get(v.name)!.push(timeOnce(v));
    }
  }
  const base = summarize(samples.get(VARIANTS[0]!.name)!).median;
  const rows = VARIANTS.map((v) => {
    const s = summarize(samples.get(v.name)!);
    const ratio = s.median / base;
    return [v.name, formatSummary(s), ratio.toFixed(2), v.goal ? `<= ${GOAL_RATIO}: ${ratio <= GOAL_RATIO ? 'met' : 'NOT met'}` : ''];
  });
  console.log(formatTable(['variant', 'wall ms, median (min–max)', 'x node -e 0', 'goal'], rows));
  const l = summarize(loads);
  console.log(`\n${runs} interleaved rounds; 1-minute load average over the run ${l.min.toFixed(1)}–${l.max.toFixed(1)}.`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
