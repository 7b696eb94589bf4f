/**
 * A VM through a real node (the end-to-end cluster of test/e2e: kubelet, containerd, CNI,
 * kubevmm installed by its chart), against baselines measured in the same run.
 *
 * `npx tsx bench/real-node.ts [--vms N] [--memory-only]` (default 10), interleaved rounds of:
 * - a plain busybox pod: create -> Ready;
 * - a VM (containerDisk test guest, 1 vCPU, 128Mi): create -> Running, and create -> the
 *   guest's first console line, read from `kubectl logs -c guest-console` with the kubelet's
 *   timestamps (this machine is the node: one clock); the operator's API writes for the start;
 * - bare QEMU with the launcher's command line for the same guest: spawn -> first console line.
 * Then one VM whose guest fills its memory: what the pod's processes hold (the cgroup's rss and
 * mapped files; its working set too) minus the guest RAM QEMU holds resident, against the
 * renderer's overhead formula, and whether anything was OOM-killed.
 * Prints figures and the goals of issue 11; asserts nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { resolveVm } from '../api/resolve.js';
import { parseQuantity } from '../api/quantity.js';
import { DEFAULT_CONFIG } from '../api/schema/config.js';
import type { VirtualMachine } from '../api/schema/vm.js';
import { memoryOverhead } from '../operator/render/overhead.js';
import { machineLine } from './lib/env.js';
import { createNamespace, e2eImageRef, useE2eCluster } from '../harness/e2e-cluster.js';
import { buildGuest } from '../harness/guest.js';
import { getJson, kubectl, operatorRequests, podMemory, poll, writesBetween, type PodMemory } from './lib/real-node-cluster.js';
import { percentile } from './lib/operator-scale-report.js';
import { bareRun, launcherRun, type StartContext } from './lib/start-runs.js';
import { formatTable, intFlag } from './lib/stats.js';
import { benchVm } from './lib/vm.js';

const NS = `bench-rn-${process.pid}`;
const FIRST_LINE = 'KUBEVMM-GUEST booted';

interface Round {
  podReady: number;
  vmRunning: number;
  vmFirstLine: number;
  bareFirstLine: number;
  writes: number;
  events: number;
  byKind: string[];
}

function vmManifest(name: string, image: string, guest = '128Mi'): VirtualMachine {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: NS },
    spec: { cpu: { cores: 1 }, memory: { guest }, devices: { graphics: 'none' }, disks: [{ name: 'root', readOnly: true, containerDisk: { image } }] },
  };
}

async function podRound(i: number, busybox: string): Promise<number> {
  const name = `pod-${i}`;
  const t0 = Date.now();
  kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS }, spec: { containers: [{ name: 'c', image: busybox, command: ['/bin/sh', '-c', 'exec /bin/busybox sleep 3600'] }], terminationGracePeriodSeconds: 0 } }));
  const ready = await poll(`pod ${name} Ready`, () => getJson(['-n', NS, 'pod', name])?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'));
  kubectl(['-n', NS, 'delete', 'pod', name, '--wait=true']);
  return ready.at - t0;
}

/** The kubelet's timestamp of the guest's first console line, in ms since the epoch. */
function firstLineAt(vm: string): number | undefined {
  const r = spawnSync('kubectl', ['-n', NS, 'logs', `${vm}-launcher`, '-c', 'guest-console', '--timestamps'], { encoding: 'utf8', env: process.env });
  const line = r.status === 0 ? r.stdout.split('\n').find((l) => l.includes(FIRST_LINE)) : undefined;
  return line ? Date.parse(line.slice(0, line.indexOf(' '))) : undefined;
}

async function vmRound(i: number, image: string): Promise<Pick<Round, 'vmRunning' | 'vmFirstLine' | 'writes' | 'events' | 'byKind'>> {
  const name = `vm-${i}`;
  const before = await operatorRequests();
  const t0 = Date.now();
  kubectl(['apply', '-f', '-'], JSON.stringify(vmManifest(name, image)));
  const running = await poll(`VM ${name} Running`, () => getJson(['-n', NS, 'virtualmachine', name])?.status?.printableStatus === 'Running');
  const first = await poll(`the first console line of ${name}`, () => firstLineAt(name), 120_000, 200);
  // Let the start settle (the last status write follows Running), then count.
  await new Promise((r) => setTimeout(r, 2000));
  const writes = writesBetween(before, await operatorRequests());
  kubectl(['-n', NS, 'delete', 'virtualmachine', name, '--wait=true', '--timeout=120s']);
  return { vmRunning: running.at - t0, vmFirstLine: first.value - t0, ...writes };
}

/** Types on the guest's console through the launcher (as test/e2e does) and waits for `marker`. */
async function inGuest(vm: string, command: string, marker: string): Promise<void> {
  spawnSync('kubectl', ['-n', NS, 'exec', '-i', `${vm}-launcher`, '-c', 'launcher', '--', 'node', '/app/launcher.mjs', 'console'], { input: `\r${command}\r`, env: process.env, timeout: 60_000 });
  await poll(`${marker} on the console of ${vm}`, () => spawnSync('kubectl', ['-n', NS, 'logs', `${vm}-launcher`, '-c', 'guest-console'], { encoding: 'utf8', env: process.env }).stdout.includes(marker), 300_000, 1000);
}

async function memoryRun(image: string): Promise<string> {
  const guest = '256Mi';
  const vm = vmManifest('memory', image, guest);
  // The page cache is charged to the cgroup that reads a page first. Dropped now, the launcher's
  // binaries and libraries (QEMU, node: what the formula's file-backed share is for) are charged
  // to this pod, as on a node where it is the first VM, not to the launchers that ran before.
  await writeFile('/proc/sys/vm/drop_caches', '3');
  kubectl(['apply', '-f', '-'], JSON.stringify(vm));
  await poll('VM memory Running', () => getJson(['-n', NS, 'virtualmachine', 'memory'])?.status?.printableStatus === 'Running');
  await poll('the guest ready', () => spawnSync('kubectl', ['-n', NS, 'logs', 'memory-launcher', '-c', 'guest-console'], { encoding: 'utf8' }).stdout.includes('KUBEVMM-GUEST ready'), 120_000, 500);
  const uid = getJson(['-n', NS, 'pod', 'memory-launcher'])!.metadata.uid as string;
  const guestBytes = parseQuantity(guest);
  const idle = await podMemory(uid, guestBytes);
  // Fill what the guest has free with data a tmpfs keeps, so (nearly) every page of guest RAM
  // has been touched. 85 % of MemAvailable: the busybox guest has no swap, and taking the last
  // pages makes its kernel kill init (a guest panic, not what this measures).
  await inGuest('memory', 'mount -t tmpfs -o size=100% fill /mnt && dd if=/dev/zero of=/mnt/f bs=1M count=$(( $(sed -n "s/MemAvailable: *\\([0-9]*\\).*/\\1/p" /proc/meminfo) * 85 / 102400 )) 2>/dev/null; echo FILLED-$((20+22))', 'FILLED-42');
  await new Promise((r) => setTimeout(r, 3000));
  const full = await podMemory(uid, guestBytes).catch((err: unknown) => {
    // The pod is gone: say what happened to it rather than only that its cgroup is missing.
    const vmNow = getJson(['-n', NS, 'virtualmachine', 'memory']);
    throw new Error(`${String(err)}; the VM now: ${JSON.stringify(vmNow?.status ?? {})}`);
  });
  const after = getJson(['-n', NS, 'virtualmachine', 'memory']);
  const restarts = getJson(['-n', NS, 'pod', 'memory-launcher'])?.status?.containerStatuses?.find((c: { name: string }) => c.name === 'launcher')?.restartCount;
  const formula = memoryOverhead(resolveVm(vm, undefined, DEFAULT_CONFIG), true);
  const MiB = 2 ** 20;
  const m = (b: number) => (b / MiB).toFixed(0);
  kubectl(['-n', NS, 'delete', 'virtualmachine', 'memory', '--wait=true', '--timeout=120s']);
  const measured = full.held - full.guestResident;
  const ws = full.workingSet - full.guestResident;
  const pct = (b: number) => `${((b / formula - 1) * 100).toFixed(0)} %`;
  const row = (label: string, p: PodMemory) => [label, m(p.usage), m(p.workingSet), m(p.rss), m(p.held), m(p.guestResident), m(p.held - p.guestResident), m(p.workingSet - p.guestResident)];
  return [
    formatTable(
      ['pod cgroup, MiB', 'usage', 'working set', 'rss', 'held (rss + mapped files)', 'guest RAM resident', 'held - guest', 'working set - guest'],
      [row('guest idle at ready', idle), row('guest memory filled', full)],
    ),
    '',
    `overhead formula (operator/render/overhead.ts, tcg): ${m(formula)} MiB; held by the pod's processes beyond guest RAM ${m(measured)} MiB = ${pct(measured)} against the formula (goal: within 20 %); the kubelet's working set beyond guest RAM ${m(ws)} MiB = ${pct(ws)}`,
    `OOM kills in the pod cgroup: ${full.oomKills}; launcher restarts: ${restarts ?? '?'}; VM after the fill: ${after?.status?.printableStatus ?? '?'}`,
  ].join('\n');
}

const f = (ms: number) => (ms / 1000).toFixed(2);

function report(rounds: readonly Round[]): string {
  const col = (k: keyof Omit<Round, 'byKind'>) => rounds.map((r) => r[k]);
  const row = (label: string, k: keyof Omit<Round, 'byKind'>) => [label, f(percentile(col(k), 50)), f(percentile(col(k), 95))];
  const p50 = (k: keyof Omit<Round, 'byKind'>) => percentile(col(k), 50);
  const runningGoal = p50('podReady') + 1000;
  const lineGoal = p50('podReady') + 1.1 * p50('bareFirstLine') + 500;
  const writes = col('writes');
  return [
    formatTable(['s, over ' + rounds.length + ' rounds', 'p50', 'p95'], [
      row('busybox pod: create -> Ready', 'podReady'),
      row('VM: create -> Running', 'vmRunning'),
      row('VM: create -> first console line', 'vmFirstLine'),
      row('bare QEMU: spawn -> first console line', 'bareFirstLine'),
    ]),
    '',
    `goal Running <= pod Ready + 1 s: p50 ${f(p50('vmRunning'))} s vs ${f(runningGoal)} s: ${p50('vmRunning') <= runningGoal ? 'met' : 'NOT met'}`,
    `goal first line <= pod Ready + 1.1 x bare + 0.5 s: p50 ${f(p50('vmFirstLine'))} s vs ${f(lineGoal)} s: ${p50('vmFirstLine') <= lineGoal ? 'met' : 'NOT met'}`,
    `operator API writes per VM start: ${percentile(writes, 50)} (min ${Math.min(...writes)}, max ${Math.max(...writes)}), plus ${percentile(col('events'), 50)} Events; e.g. ${rounds[0]?.byKind.join(', ')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  // --memory-only: the memory run alone (a minute instead of ten).
  const n = process.argv.includes('--memory-only') ? 0 : intFlag(process.argv.slice(2), 'vms', 10);
  useE2eCluster();
  const image = e2eImageRef('guest-disk');
  const busybox = e2eImageRef('volume-helper');
  const guestImage = await buildGuest();
  console.log(`real-node: ${await machineLine()}`);
  createNamespace(NS);
  const work = await mkdtemp(join(tmpdir(), 'kvb-rn-'));
  try {
    const vm = benchVm('bare', { vcpus: 1, memory: '128Mi', graphics: 'none' });
    const rounds: Round[] = [];
    const warm = n > 0 ? await launcherRun({ vm, image: guestImage, work, marker: FIRST_LINE }, true) : undefined;
    for (let i = 1; warm && i <= n; i++) {
      const ctx: StartContext = { vm, image: guestImage, work, marker: FIRST_LINE, bareDir: warm.dir, argv: warm.argv };
      const podReady = await podRound(i, busybox);
      const vmPart = await vmRound(i, image);
      const bare = await bareRun(ctx, 'no-S');
      rounds.push({ podReady, ...vmPart, bareFirstLine: bare.booted });
      console.error(`round ${i}/${n}: pod Ready ${f(podReady)} s, VM Running ${f(vmPart.vmRunning)} s, first line ${f(vmPart.vmFirstLine)} s, bare ${f(bare.booted)} s, ${vmPart.writes} writes`);
    }
    if (rounds.length) console.log(`\n${report(rounds)}\n`);
    console.log(await memoryRun(image));
  } finally {
    kubectl(['delete', 'namespace', NS, '--wait=false']);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
