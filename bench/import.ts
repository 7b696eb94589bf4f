// Import throughput: a 1 GiB qcow2 (every cluster allocated) imported over local HTTP by the
// importer, streamed (nbdkit's curl plugin serving the file to qemu-img convert, checksum by a
// second GET beside it, fsync) and downloaded first (into scratch, qemu-img info, convert to
// raw, fsync, compare), against `qemu-img convert -O raw` of the same file (into the page
// cache; then synced; and with direct I/O), in the same process, rounds interleaved.
//
//   npx tsx bench/import.ts [--runs N] [--size-mib M] [--server nginx|busybox]
//   (default 3 rounds of 1024 MiB served by nginx)

import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImportProgress, runImport } from '../launcher/import/index.js';
import { freePort } from '../launcher/runtime/ports.js';
import { machineLine } from './lib/env.js';
import { formatSummary, formatTable, intFlag, summarize } from './lib/stats.js';

const exec = promisify(execFile);
const MiB = 1024 * 1024;

/** A raw disk of `mib` MiB with no zero block (so nothing is skipped as sparse), then as qcow2. */
async function makeQcow2(dir: string, mib: number): Promise<string> {
  const raw = join(dir, 'disk.raw');
  const block = randomBytes(MiB);
  const handle = await open(raw, 'w');
  for (let i = 0; i < mib; i++) {
    block.writeUInt32LE(i, 0);
    await handle.write(block);
  }
  await handle.close();
  const qcow2 = join(dir, 'disk.qcow2');
  await exec('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  await rm(raw);
  return qcow2;
}

/** nginx serving `dir` on `port`, as a mirror does: keep-alive, sendfile, ranges; its files stay in `dir`. */
async function nginxArgs(dir: string, port: number): Promise<string[]> {
  const prefix = join(dir, 'nginx');
  await mkdir(prefix, { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  await writeFile(
    conf,
    [
      'daemon off;', 'worker_processes 1;', `pid ${join(prefix, 'nginx.pid')};`, `error_log ${join(prefix, 'error.log')};`,
      'events { worker_connections 64; }',
      `http { access_log off; sendfile on; keepalive_requests 100000; server { listen 127.0.0.1:${port}; root ${dir}; } }`,
    ].join('\n'),
  );
  return ['-e', join(prefix, 'error.log'), '-p', prefix, '-c', conf];
}

/**
 * The file served by another process, as a mirror in another pod would be: the importer's
 * process does only the importing. nginx (keep-alive, as mirrors are) by default; busybox httpd
 * (a process per request, what the e2e tier's server pod runs) with `--server busybox`.
 */
async function startServer(dir: string, kind: 'nginx' | 'busybox'): Promise<{ url(name: string): string; close(): void }> {
  const port = await freePort();
  // nginx's workers run as nobody when started by root: the files must be readable by all.
  await chmod(dir, 0o755);
  const [program, args, hint] =
    kind === 'nginx'
      ? ['nginx', await nginxArgs(dir, port), 'apt-get install nginx']
      : ['busybox', ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', dir], 'apt-get install busybox-static'];
  const child = spawn(program, args, { stdio: 'ignore' });
  child.on('error', (err) => {
    throw new Error(`${program} is needed to serve the file (${hint}): ${err.message}`);
  });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => connect(port, '127.0.0.1').on('connect', function (this: Socket) { this.destroy(); resolve(true); }).on('error', () => resolve(false)));
    if (up) break;
    if (child.exitCode !== null) throw new Error(`${program} exited (${child.exitCode}) before serving the file`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: (name) => `http://127.0.0.1:${port}/${name}`, close: () => child.kill() };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** ms spent in each importer phase, sampled every 20 ms. */
function watchPhases(progress: ImportProgress): { stop(): Record<string, number> } {
  const spent: Record<string, number> = {};
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    spent[progress.currentPhase] = (spent[progress.currentPhase] ?? 0) + (now - last);
    last = now;
  }, 20);
  return {
    stop: () => {
      clearInterval(timer);
      return spent;
    },
  };
}

async function main(): Promise<void> {
  const runs = intFlag(process.argv, 'runs', 3);
  const mib = intFlag(process.argv, 'size-mib', 1024);
  const at = process.argv.indexOf('--server');
  const serverKind = at > 0 ? process.argv[at + 1] : 'nginx';
  if (serverKind !== 'nginx' && serverKind !== 'busybox') throw new Error(`--server is nginx or busybox, not ${serverKind}`);
  const work = await mkdtemp(join(tmpdir(), 'kubevmm-bench-import-'));
  const server = await startServer(work, serverKind);
  try {
    process.stdout.write(`${await machineLine()}\nserver: ${serverKind}\npreparing a ${mib} MiB qcow2 ...\n`);
    const qcow2 = await makeQcow2(work, mib);
    const bytes = mib * MiB;
    // What checking a checksum costs on this machine: the importer hashes every byte it is served.
    const hashed = await timed(async () => createHash('sha256').update(await readFile(qcow2)).digest('hex'));
    const baseline: number[] = [];
    const synced: number[] = [];
    const direct: number[] = [];
    const paths = { streamed: [] as number[], downloaded: [] as number[] };
    const phases: Record<string, number[]> = {};
    for (let round = 0; round < runs; round++) {
      const out = join(work, `round-${round}`);
      const convert = async () => {
        await mkdir(out, { recursive: true });
        baseline.push(await timed(() => exec('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, join(out, 'convert.raw')])));
        // The importer syncs what it wrote before it says done; the bare convert leaves it in the page cache.
        synced.push(baseline[baseline.length - 1]! + (await timed(() => exec('sync', ['-f', join(out, 'convert.raw')]))));
        // The fastest durable convert: direct I/O, as the importer writes where it can.
        direct.push(await timed(() => exec('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', '-t', 'none', qcow2, join(out, 'direct.raw')])));
        await rm(out, { recursive: true, force: true });
      };
      const importer = (path: keyof typeof paths) => async () => {
        await mkdir(join(out, 'scratch'), { recursive: true });
        await mkdir(join(out, 'target'), { recursive: true });
        const progress = new ImportProgress();
        const watch = watchPhases(progress);
        const task = { source: { kind: 'http' as const, url: server.url('disk.qcow2') }, target: { mode: 'Filesystem' as const, capacityBytes: bytes } };
        paths[path].push(await timed(() => runImport({ task, scratchDir: join(out, 'scratch'), targetDir: join(out, 'target'), targetDevice: '/nonexistent', progress, stream: path === 'streamed' })));
        for (const [phase, ms] of Object.entries(watch.stop())) (phases[`${path} ${phase}`] ??= []).push(ms);
        await rm(out, { recursive: true, force: true });
      };
      // Rotate the order, so none always meets a warmer page cache.
      const steps = [convert, importer('streamed'), importer('downloaded')];
      for (let k = 0; k < steps.length; k++) await steps[(k + round) % steps.length]!();
    }
    const mbps = (ms: number) => bytes / MiB / (ms / 1000);
    const row = (label: string, ms: number[]) => [label, formatSummary(summarize(ms.map((m) => m / 1000)), 2), formatSummary(summarize(ms.map(mbps)))];
    const against = { convert: baseline, 'convert + sync': synced, 'convert -t none': direct };
    const ratio = (ms: number[]) =>
      Object.entries(against)
        .map(([name, base]) => `${(summarize(base).median / summarize(ms).median).toFixed(2)} against ${name}`)
        .join(', ');
    process.stdout.write(
      `\n${formatTable(
        ['', 'seconds', 'MiB/s (virtual size)'],
        [
          row('qemu-img convert -O raw (baseline)', baseline),
          row('qemu-img convert -O raw, then sync', synced),
          row('qemu-img convert -O raw -t none', direct),
          row('importer, streamed', paths.streamed),
          row('importer, downloaded first', paths.downloaded),
          ...Object.entries(phases).map(([phase, ms]) => [`  ${phase}`, formatSummary(summarize(ms.map((m) => m / 1000)), 2), '']),
        ],
      )}\n\nSHA-256 of the file in this process (what a source.http.sha256 adds, beside the streamed conversion): ${(hashed / 1000).toFixed(2)} s\nthroughput ratio, medians (goal >= 0.8):\n  streamed:   ${ratio(paths.streamed)}\n  downloaded: ${ratio(paths.downloaded)}\n`,
    );
  } finally {
    server.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
