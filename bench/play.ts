/**
 * `kubevmm play` end to end, as a user runs it, against bare QEMU booting the same disk.
 *
 * `npx tsx bench/play.ts [--runs N]`   (default 5; ~30 s per round on two cores under TCG)
 *
 * The VM is the README quickstart's (2 vCPUs, 256Mi, the fixture guest as root disk, a
 * cloud-init disk, one NIC) with the guest powering itself off 1 s after it is ready. Two
 * variants, interleaved (the order alternates every round), each a fresh process, stdout read
 * for the guest's serial markers:
 * - play: `kubevmm play FILE --disk root=IMG --accel tcg --timings` (bin/kubevmm.js, the bundle
 *   built first from the current sources), with its own milestones on stderr;
 * - bare: `qemu-system-x86_64` as someone booting that disk by hand would run it: q35 under
 *   TCG, `-cpu max`, the same vCPUs and memory, both disks on virtio (the cidata ISO written
 *   beforehand with the launcher's own NoCloud files), a virtio NIC on user networking, the
 *   serial console on stdio, `-nodefaults`;
 * - bare, lean: the same with the NIC's option ROM (iPXE) left out, as the launcher does: the
 *   stricter baseline, which the goal is checked against.
 * Milestones, ms from the spawn: the guest's `booted` line (with the guest kernel's uptime,
 * which splits firmware and boot loader from the kernel), `ready`, `self-poweroff`, and the
 * process's exit. Prints the times, play / bare (goal: end to end <= 1.2) and where play's time
 * goes; asserts nothing.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { launcherVm } from '../api/resolve.js';
import { buildGuest } from '../harness/guest.js';
import { DEFAULT_CONFIG } from '../api/schema/config.js';
import type { VirtualMachine } from '../api/schema/vm.js';
import { nocloudFiles, writeCidataIso } from '../launcher/cloudinit/index.js';
import { bundleCli, REPO_ROOT } from '../scripts/bundle.js';
import { load1, machineLine } from './lib/env.js';
import { timeRun, type PlayRun } from './lib/play-run.js';
import { playBreakdown } from './lib/play-report.js';
import { formatSummary, formatTable, intFlag, summarize } from './lib/stats.js';

const GOAL = 1.2;
const TIMEOUT_MS = 300_000;

/** The quickstart manifest, the guest powering off 1 s after ready. */
async function manifest(dir: string): Promise<{ file: string; vm: VirtualMachine }> {
  const text = (await readFile(join(REPO_ROOT, 'examples', 'quickstart.yaml'), 'utf8')).replace('poweroff-after=5', 'poweroff-after=1');
  const file = join(dir, 'quickstart.yaml');
  await writeFile(file, text);
  return { file, vm: parse(text) as VirtualMachine };
}

/** Bare QEMU's argv for the same VM: the disk, the cidata ISO, the NIC, as one would type it. */
function bareArgs(vm: VirtualMachine, image: string, cidata: string, opts: { nicRom: boolean }): string[] {
  const cores = vm.spec.cpu?.cores ?? 1;
  const mib = Number(String(vm.spec.memory?.guest ?? '256Mi').replace('Mi', ''));
  const nic = opts.nicRom ? ['-nic', 'user,model=virtio-net-pci'] : ['-netdev', 'user,id=net0', '-device', 'virtio-net-pci,netdev=net0,romfile='];
  return [
    ...['-machine', 'q35', '-accel', 'tcg', '-cpu', 'max', '-smp', String(cores), '-m', String(mib)],
    ...['-nodefaults', '-display', 'none', '-serial', 'stdio'],
    ...['-drive', `if=virtio,format=raw,readonly=on,file=${image}`, '-drive', `if=virtio,format=raw,readonly=on,file=${cidata}`],
    ...nic,
  ];
}

type Variant = 'play' | 'bare' | 'lean';
const LABELS: Record<Variant, string> = { play: 'kubevmm play', bare: 'bare QEMU', lean: 'bare QEMU, lean' };

interface Round {
  runs: Record<Variant, PlayRun>;
  load: number;
}

const MILESTONES = [
  ['guest booted', (r: PlayRun) => r.booted],
  ['guest ready', (r: PlayRun) => r.ready],
  ['process exited (end to end)', (r: PlayRun) => r.exit],
] as const;

function timesTable(rounds: readonly Round[]): string {
  const variants = Object.keys(LABELS) as Variant[];
  const rows = MILESTONES.map(([label, pick]) => [label, ...variants.map((v) => formatSummary(summarize(rounds.map((r) => pick(r.runs[v])))))]);
  return formatTable(['milestone, ms from spawn', ...variants.map((v) => LABELS[v])], rows);
}

function ratioTable(rounds: readonly Round[]): string {
  const rows: string[][] = [];
  for (const base of ['lean', 'bare'] as const) {
    for (const [label, pick] of MILESTONES) {
      const play = summarize(rounds.map((r) => pick(r.runs.play))).median;
      const other = summarize(rounds.map((r) => pick(r.runs[base]))).median;
      const paired = summarize(rounds.map((r) => pick(r.runs.play) / pick(r.runs[base])));
      const goal = base === 'lean' && label.startsWith('process') ? `<= ${GOAL}: ${play / other <= GOAL ? 'met' : 'NOT met'}` : '';
      rows.push([`play / ${LABELS[base]}`, label, (play / other).toFixed(3), formatSummary(paired, 3), goal]);
    }
  }
  return formatTable(['ratio', 'milestone', 'of the medians', 'per round, median (min–max)', 'goal'], rows);
}

async function main(): Promise<void> {
  const runs = intFlag(process.argv.slice(2), 'runs', 5);
  const dir = await mkdtemp(join(tmpdir(), 'kubevmm-bench-play-'));
  try {
    await bundleCli();
    const image = await buildGuest();
    const { file, vm } = await manifest(dir);
    const resolved = launcherVm(vm, undefined, { ...DEFAULT_CONFIG, accelerator: 'tcg' });
    const ciDisk = resolved.disks.find((d) => d.source === 'cloudInit');
    if (!ciDisk) throw new Error('the quickstart manifest has no cloudInit disk');
    const cidata = join(dir, 'cidata.iso');
    await writeCidataIso(nocloudFiles(resolved, ciDisk), cidata);
    console.log(`# play\n\n${await machineLine()}\n`);
    const start: Record<Variant, () => Promise<PlayRun>> = {
      play: () => timeRun(process.execPath, [join(REPO_ROOT, 'bin', 'kubevmm.js'), 'play', file, '--disk', `root=${image}`, '--accel', 'tcg', '--timings'], { timeoutMs: TIMEOUT_MS, cwd: REPO_ROOT }),
      bare: () => timeRun('qemu-system-x86_64', bareArgs(vm, image, cidata, { nicRom: true }), { timeoutMs: TIMEOUT_MS }),
      lean: () => timeRun('qemu-system-x86_64', bareArgs(vm, image, cidata, { nicRom: false }), { timeoutMs: TIMEOUT_MS }),
    };
    await start.play(); // warm-up: page cache, QEMU's first start
    const order: Variant[] = ['play', 'bare', 'lean'];
    const rounds: Round[] = [];
    for (let i = 0; i < runs; i++) {
      const load = load1();
      const got: Partial<Record<Variant, PlayRun>> = {};
      for (let k = 0; k < order.length; k++) {
        const v = order[(i + k) % order.length]!;
        got[v] = await start[v]();
      }
      const round = { runs: got as Record<Variant, PlayRun>, load };
      rounds.push(round);
      console.error(`round ${i + 1}/${runs}: ${order.map((v) => `${v} ${(round.runs[v].exit / 1000).toFixed(2)} s`).join(', ')}`);
    }
    console.log(timesTable(rounds));
    console.log(`\n${ratioTable(rounds)}`);
    console.log(`\nWhere the time goes (ms, median (min–max) of ${runs} runs; bare is the lean one):\n`);
    console.log(playBreakdown(rounds.map((r) => r.runs.play), rounds.map((r) => r.runs.lean)));
    const l = summarize(rounds.map((r) => r.load));
    console.log(`\n${runs} interleaved rounds; 1-minute load average ${l.min.toFixed(1)}–${l.max.toFixed(1)} (the machine is shared).`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
