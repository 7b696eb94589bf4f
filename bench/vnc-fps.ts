/**
 * VNC frames per second of a changing screen through the CLI's stream path (the
 * `virtualmachines/vnc` WebSocket, as `kubevmm vnc` opens it) against a direct connection to
 * QEMU's VNC socket, in the same run, interleaved (the order alternates every round).
 *
 * Local (default): `npx tsx bench/vnc-fps.ts [--runs N] [--seconds S]`   (defaults 3 and 5)
 *   starts the fixture guest under TCG with a VNC display (the launcher, as `kubevmm play`
 *   does) and a stand-in for the API server and the subresource server in this process
 *   (harness/subresource-standin.ts: TLS, a client certificate, `v1.stream.kubevmm.io`,
 *   bridged to QEMU's socket); the guest prints without pause to its VGA console.
 * Any target: `--direct PATH|HOST:PORT` (QEMU's VNC unix socket, or a TCP address) and/or
 *   `--kubeconfig FILE --vm NAME [--namespace NS]` (the real API server); the screen must be
 *   changing on its own (e.g. a loop printing to /dev/tty1, started on the console).
 *
 * Each measurement is one RFB session: the handshake, a full-screen request, then for S
 * seconds one incremental FramebufferUpdateRequest at a time, each answered by QEMU when the
 * screen has changed (its refresh timer ticks every ~30 ms, so ~33 fps is the ceiling). It
 * counts updates ("frames"), pixel bytes, and the time from each request to its update.
 * Asserts nothing.
 */
import { createConnection } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { loadContext } from '../cli/cluster/context.js';
import { RfbClient } from '../cli/cluster/rfb-client.js';
import { openStream } from '../cli/cluster/stream.js';
import { startLauncher, type LauncherHandle } from '../launcher/main.js';
import { buildGuest } from '../harness/guest.js';
import { startStandin, writeKubeconfig, type Standin } from '../harness/subresource-standin.js';
import { load1, machineLine } from './lib/env.js';
import { formatSummary, formatTable, intFlag, summarize } from './lib/stats.js';
import { benchVm } from './lib/vm.js';

interface Target {
  name: string;
  connect: () => Promise<Duplex>;
}

interface Measurement {
  fps: number;
  mibPerSecond: number;
  latencyMs: number[];
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? undefined : argv[i + 1];
}

function directTarget(address: string): Target {
  const tcp = /^(.+):(\d+)$/.exec(address);
  const connect = () =>
    new Promise<Duplex>((resolve, reject) => {
      const socket = tcp ? createConnection(Number(tcp[2]), tcp[1]) : createConnection(address);
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });
  return { name: `direct: QEMU's VNC socket (${address})`, connect };
}

function streamTarget(kubeconfig: string, vm: string, namespace?: string): Target {
  const ctx = loadContext({ kubeconfig, ...(namespace ? { namespace } : {}) });
  return { name: `stream: virtualmachines/vnc WebSocket (${ctx.server})`, connect: async () => (await openStream(ctx, { name: vm, subresource: 'vnc' })).stream };
}

/** One session of `seconds` of incremental updates. */
async function measure(target: Target, seconds: number): Promise<Measurement> {
  const stream = await target.connect();
  try {
    const rfb = new RfbClient(stream);
    await rfb.handshake();
    await rfb.screenshot();
    const latencyMs: number[] = [];
    let bytes = 0;
    const started = performance.now();
    const end = started + seconds * 1000;
    while (performance.now() < end) {
      const asked = performance.now();
      rfb.requestUpdate(true);
      const update = await rfb.nextUpdate();
      latencyMs.push(performance.now() - asked);
      bytes += update.bytes;
    }
    const elapsed = (performance.now() - started) / 1000;
    return { fps: latencyMs.length / elapsed, mibPerSecond: bytes / elapsed / 2 ** 20, latencyMs };
  } finally {
    stream.destroy();
  }
}

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** The fixture guest with a VNC display, printing without pause on its VGA console. */
async function localGuest(work: string): Promise<{ vm: LauncherHandle; vncSocket: string }> {
  const image = await buildGuest();
  const runtimeDir = await mkdtemp(join(work, 'vm-'));
  const vm = await startLauncher({
    vm: benchVm('vnc-fps', { vcpus: 1, memory: '192Mi', graphics: 'vnc' }),
    accel: 'tcg',
    runtimeDir,
    disks: { root: image },
  });
  await vm.started;
  const serial = createConnection(vm.serialSocket);
  let seen = '';
  serial.on('data', (c: Buffer) => (seen += c.toString('latin1')));
  const deadline = Date.now() + 180_000;
  const waitFor = async (text: string) => {
    while (!seen.includes(text)) {
      if (Date.now() > deadline) throw new Error(`the guest did not print "${text}"; its console:\n${seen.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await waitFor('Press Enter for a shell.');
  serial.write('\r');
  await waitFor('kubevmm-guest#');
  serial.write('i=0; while :; do i=$((i+1)); echo "frame $i $i $i $i $i $i $i $i $i $i"; done > /dev/tty1 &\r');
  serial.end();
  return { vm, vncSocket: join(runtimeDir, 'vnc.sock') };
}

async function localTargets(work: string): Promise<{ targets: Target[]; cleanup: () => Promise<void> }> {
  const { vm, vncSocket } = await localGuest(work);
  const standin: Standin = await startStandin({ route: () => ({ bridge: vncSocket }) });
  const kubeconfig = await writeKubeconfig(join(work, 'kube'), standin, { cert: await standin.clientCert('bench'), namespace: 'bench' });
  return {
    targets: [directTarget(vncSocket), { ...streamTarget(kubeconfig, 'vnc-fps'), name: 'stream: CLI -> wss (stand-in API server, client certificate) -> QEMU socket' }],
    cleanup: async () => {
      await standin.close();
      await vm.stop({ reason: 'BenchDone', message: 'vnc-fps done', force: true });
      await vm.done;
    },
  };
}

function explicitTargets(argv: readonly string[]): Target[] {
  const direct = flag(argv, 'direct');
  const kubeconfig = flag(argv, 'kubeconfig');
  const vm = flag(argv, 'vm');
  if (kubeconfig && !vm) throw new Error('--kubeconfig needs --vm NAME');
  return [...(direct ? [directTarget(direct)] : []), ...(kubeconfig && vm ? [streamTarget(kubeconfig, vm, flag(argv, 'namespace'))] : [])];
}

function report(targets: Target[], results: Map<string, Measurement[]>, loads: number[]): void {
  const rows = targets.map((t) => {
    const runs = results.get(t.name)!;
    const latency = runs.flatMap((r) => r.latencyMs);
    return [t.name, formatSummary(summarize(runs.map((r) => r.fps)), 1), formatSummary(summarize(runs.map((r) => r.mibPerSecond)), 2), percentile(latency, 50).toFixed(1), percentile(latency, 99).toFixed(1)];
  });
  console.log(formatTable(['path', 'frames/s, median (min–max)', 'MiB/s', 'request->update p50 ms', 'p99 ms'], rows));
  if (targets.length === 2) {
    const [base, other] = targets.map((t) => results.get(t.name)!);
    const perRound = other!.map((m, i) => m.fps / base![i]!.fps);
    console.log(`\nstream / direct frames per second: ${formatSummary(summarize(perRound), 2)} (per-round ratios, median (min–max))`);
  }
  const l = summarize(loads);
  console.log(`1-minute load average over the run ${l.min.toFixed(1)}–${l.max.toFixed(1)}.`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const runs = intFlag(argv, 'runs', 3);
  const seconds = intFlag(argv, 'seconds', 5);
  const work = await mkdtemp(join(tmpdir(), 'kubevmm-vnc-fps-'));
  const explicit = explicitTargets(argv);
  const local = explicit.length ? undefined : await localTargets(work);
  const targets = explicit.length ? explicit : local!.targets;
  try {
    console.log(`# vnc-fps\n\n${await machineLine()}\n`);
    console.log(local ? 'local: the fixture guest under TCG printing to /dev/tty1 in a loop; the stand-in runs in this process\n' : 'targets from the command line; the screen is expected to be changing\n');
    const results = new Map<string, Measurement[]>(targets.map((t) => [t.name, []]));
    const loads: number[] = [];
    await measure(targets[0]!, 1); // warm-up: the first session pays for QEMU's first full encode
    for (let round = 0; round < runs; round++) {
      loads.push(load1());
      const order = round % 2 ? [...targets].reverse() : targets;
      for (const target of order) results.get(target.name)!.push(await measure(target, seconds));
    }
    report(targets, results, loads);
  } finally {
    await local?.cleanup();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
