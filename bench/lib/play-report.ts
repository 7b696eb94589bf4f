// bench/play.ts's breakdown: play's own milestones (`--timings`) and the guest's markers, side by
// side with bare QEMU's, phase by phase.

import type { PlayRun } from './play-run.js';
import { formatSummary, formatTable, summarize } from './stats.js';

/** play's --timings milestones (cli/program.ts, cli/play.ts), in order. */
export const PLAY_MILESTONES = {
  cli: 'Node and the CLI loaded',
  modules: 'play and the launcher loaded',
  manifest: 'manifest read and checked',
  disks: 'disks ready (cidata ISO written)',
  spawned: 'QEMU spawned',
  running: 'guest running (QMP cont answered)',
  exited: 'QEMU exited, launcher done',
} as const;

type Phase = [label: string, play: (r: PlayRun) => number, bare: ((r: PlayRun) => number) | undefined];

const t = (r: PlayRun, name: keyof typeof PLAY_MILESTONES) => r.timings.get(PLAY_MILESTONES[name]) ?? NaN;
/** When the guest kernel started, ms from the spawn: the booted marker minus the kernel's uptime. */
const kernelStart = (r: PlayRun) => r.booted - r.kernelSeconds * 1000;

const PHASES: Phase[] = [
  ['Node starts, loads the CLI bundle', (r) => t(r, 'cli'), undefined],
  ['play and launcher modules load', (r) => t(r, 'modules') - t(r, 'cli'), undefined],
  ['manifest read and validated', (r) => t(r, 'manifest') - t(r, 'modules'), undefined],
  ['accelerator probe, disk checks, cidata ISO', (r) => t(r, 'disks') - t(r, 'manifest'), undefined],
  ['QEMU argv planned, QEMU spawned', (r) => t(r, 'spawned') - t(r, 'disks'), undefined],
  ['QEMU starts, QMP handshake, cont', (r) => t(r, 'running') - t(r, 'spawned'), undefined],
  ['firmware (SeaBIOS) and boot loader', (r) => kernelStart(r) - t(r, 'running'), (r) => kernelStart(r)],
  ['guest kernel to its first userland line', (r) => r.kernelSeconds * 1000, (r) => r.kernelSeconds * 1000],
  ['guest init to ready (modules, cidata, DHCP)', (r) => r.ready - r.booted, (r) => r.ready - r.booted],
  ['guest idle until its power-off (1 s timer)', (r) => r.poweroff - r.ready, (r) => r.poweroff - r.ready],
  ['power-off to QEMU gone (and the launcher done)', (r) => t(r, 'exited') - r.poweroff, (r) => r.exit - r.poweroff],
  ['clean-up and process exit', (r) => r.exit - t(r, 'exited'), undefined],
];

/** The phase table: play and bare medians (min–max) and play minus bare. */
export function playBreakdown(play: readonly PlayRun[], bare: readonly PlayRun[]): string {
  const rows = PHASES.map(([label, p, b]) => {
    const ps = summarize(play.map(p));
    const bs = b ? summarize(bare.map(b)) : undefined;
    const extra = bs ? ps.median - bs.median : ps.median;
    return [label, formatSummary(ps), bs ? formatSummary(bs) : '-', extra.toFixed(0)];
  });
  const total = (runs: readonly PlayRun[]) => summarize(runs.map((r) => r.exit));
  rows.push(['end to end', formatSummary(total(play)), formatSummary(total(bare)), (total(play).median - total(bare).median).toFixed(0)]);
  return formatTable(['phase', 'kubevmm play', 'bare QEMU', 'play - bare'], rows);
}
