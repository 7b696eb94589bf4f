/**
 * Console keystroke round trip on the real node (issue 13): a key typed into `kubevmm console`
 * travels CLI -> API server -> subresource server -> launcher (mutual TLS) -> serial port;
 * the guest's shell echoes it back the same way. The baseline is the same echo through
 * `kubectl exec -i <vm>-launcher -- node /app/launcher.mjs console` (API server -> kubelet ->
 * containerd -> the launcher's local console socket), in the same run, interleaved.
 *
 * `npx tsx bench/console-rtt.ts [--keys N] [--rounds R]`   (default 100 keys, 3 rounds)
 *
 * Needs the end-to-end cluster (`npm run e2e:up`; brought up when down). One VM (the busybox
 * test guest) with its shell open; both paths are one session at a time (the first console
 * session types, so they never share). Each key is one printable character, timed from the
 * write to the moment its echo reaches the client's stdout. Prints p50/p99/mean per path and
 * the ratio; asserts nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { bundleCli, REPO_ROOT } from '../scripts/bundle.js';
import { createNamespace, e2eImageRef, useE2eCluster } from '../harness/e2e-cluster.js';
import { load1, machineLine } from './lib/env.js';
import { percentile } from './lib/operator-scale-report.js';
import { getJson, kubectl, poll } from './lib/real-node-cluster.js';
import { formatTable, intFlag } from './lib/stats.js';

const NS = `bench-console-${process.pid}`;
const VM = 'echo';
const BIN = join(REPO_ROOT, 'bin', 'kubevmm.js');
const KEYS = 'abcdefghijklmnopqrstuvwxyz';

/** One console client process and everything it printed. */
class Session {
  private out = '';
  private waiters: (() => void)[] = [];

  constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (b: Buffer) => this.seen(b));
    child.stderr!.on('data', (b: Buffer) => this.seen(b));
  }

  private seen(b: Buffer): void {
    this.out += b.toString('latin1');
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when the output past `from` contains `text`. */
  async until(text: string, from: number, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.out.slice(from).includes(text)) {
      if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(text)} from the console within ${ms} ms; last output: ${JSON.stringify(this.out.slice(-400))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  get length(): number {
    return this.out.length;
  }

  write(text: string): void {
    this.child.stdin!.write(text);
  }

  async close(detach: string): Promise<void> {
    this.write(detach);
    this.child.stdin!.end();
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

interface Path {
  name: string;
  start: () => ChildProcess;
  detach: string;
}

const PATHS: Path[] = [
  { name: 'kubevmm console (subresource)', start: () => spawn(process.execPath, [BIN, 'console', VM, '-n', NS], { stdio: 'pipe' }), detach: '\x1d' },
  {
    name: 'kubectl exec ... launcher console (baseline)',
    start: () => spawn('kubectl', ['-n', NS, 'exec', '-i', `${VM}-launcher`, '-c', 'launcher', '--', 'node', '/app/launcher.mjs', 'console'], { stdio: 'pipe' }),
    detach: '\x1d',
  },
];

/** Opens a session, gets a fresh prompt, times `keys` echoes, clears the line, closes. */
async function measure(path: Path, keys: number): Promise<number[]> {
  const session = new Session(path.start());
  const mark = session.length;
  session.write('\r');
  await session.until('kubevmm-guest#', mark, 60_000);
  const samples: number[] = [];
  for (let i = 0; i < keys; i++) {
    if (i > 0 && i % 40 === 0) {
      // Kill the line (Ctrl-U) before it wraps; its redraw is not timed.
      const at = session.length;
      session.write('\x15\r');
      await session.until('kubevmm-guest#', at);
    }
    const key = KEYS[i % KEYS.length]!;
    const at = session.length;
    const t0 = process.hrtime.bigint();
    session.write(key);
    await session.until(key, at);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  session.write('\x15\r');
  await session.close(path.detach);
  return samples;
}

async function startVm(): Promise<void> {
  createNamespace(NS);
  const vm = {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: VM, namespace: NS },
    spec: { cpu: { cores: 1 }, memory: { guest: '128Mi' }, devices: { graphics: 'none' }, disks: [{ name: 'root', readOnly: true, containerDisk: { image: e2eImageRef('guest-disk') } }] },
  };
  kubectl(['apply', '-f', '-'], JSON.stringify(vm));
  await poll('the VM Running', () => getJson(['-n', NS, 'vm', VM])?.status?.printableStatus === 'Running' || undefined, 300_000, 500);
  await poll('the guest shell offer', () => kubectl(['-n', NS, 'logs', `${VM}-launcher`, '-c', 'guest-console']).includes('Press Enter for a shell.') || undefined, 300_000, 1000);
}

async function main(): Promise<void> {
  const keys = intFlag(process.argv, 'keys', 100);
  const rounds = intFlag(process.argv, 'rounds', 3);
  useE2eCluster();
  await bundleCli();
  await startVm();
  const samples = new Map<string, number[]>(PATHS.map((p) => [p.name, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round, so drifting load hits both paths alike.
      const order = round % 2 ? [...PATHS].reverse() : PATHS;
      for (const path of order) samples.get(path.name)!.push(...(await measure(path, keys)));
      console.error(`round ${round + 1}/${rounds} done (load ${load1().toFixed(1)})`);
    }
  } finally {
    kubectl(['delete', 'namespace', NS, '--wait=false']);
  }
  const row = (name: string) => {
    const s = samples.get(name)!;
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    return [name, String(s.length), percentile(s, 50).toFixed(1), percentile(s, 99).toFixed(1), mean.toFixed(1)];
  };
  console.log(await machineLine());
  console.log(`console keystroke round trip, ${rounds} rounds x ${keys} keys per path (ms)\n`);
  console.log(formatTable(['path', 'keys', 'p50', 'p99', 'mean'], PATHS.map((p) => row(p.name))));
  const [ours, base] = PATHS.map((p) => samples.get(p.name)!);
  console.log(`\nratio subresource / kubectl exec: p50 ${(percentile(ours!, 50) / percentile(base!, 50)).toFixed(2)}x, p99 ${(percentile(ours!, 99) / percentile(base!, 99)).toFixed(2)}x`);
}

await main();
