// Import throughput: a 1 GiB qcow2 (every cluster allocated) imported over local HTTP by the
// importer, streamed (nbdkit's curl plugin serving the file to qemu-img convert, checksum by a
// second GET beside it, fsync) and downloaded first (into scratch, qemu-img info, convert to
// raw, fsync, compare), against `qemu-img convert -O raw` of the same file, in the same
// process, rounds interleaved.
//
//   npx tsx bench/import.ts [--runs N] [--size-mib M]     (default 3 rounds of 1024 MiB)

import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImportProgress, runImport } from '../launcher/import/index.js';
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

/**
 * The file served by another process (busybox httpd, which answers range requests as mirrors
 * do), as a mirror in another pod would be: the importer's process does only the importing.
 */
async function startServer(dir: string): Promise<{ url(name: string): string; close(): void }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    });
    probe.on('error', reject);
  });
  const child = spawn('busybox', ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', dir], { stdio: 'ignore' });
  child.on('error', (err) => {
    throw new Error(`busybox is needed to serve the file (apt-get install busybox-static): ${err.message}`);
  });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => connect(port, '127.0.0.1').on('connect', function (this: Socket) { this.destroy(); resolve(true); }).on('error', () => resolve(false)));
    if (up) break;
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
  const work = await mkdtemp(join(tmpdir(), 'kubevmm-bench-import-'));
  const server = await startServer(work);
  try {
    process.stdout.write(`${await machineLine()}\npreparing a ${mib} MiB qcow2 ...\n`);
    const qcow2 = await makeQcow2(work, mib);
    const bytes = mib * MiB;
    // What checking a checksum costs on this machine: the importer hashes every byte it is served.
    const hashed = await timed(async () => createHash('sha256').update(await readFile(qcow2)).digest('hex'));
    const baseline: number[] = [];
    const synced: number[] = [];
    const paths = { streamed: [] as number[], downloaded: [] as number[] };
    const phases: Record<string, number[]> = {};
    for (let round = 0; round < runs; round++) {
      const out = join(work, `round-${round}`);
      const convert = async () => {
        await mkdir(out, { recursive: true });
        baseline.push(await timed(() => exec('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, join(out, 'convert.raw')])));
        // The importer syncs what it wrote before it says done; the bare convert leaves it in the page cache.
        synced.push(baseline[baseline.length - 1]! + (await timed(() => exec('sync', ['-f', join(out, 'convert.raw')]))));
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
    const b = summarize(baseline).median;
    const bs = summarize(synced).median;
    const ratio = (ms: number[]) => `${(b / summarize(ms).median).toFixed(2)} against convert, ${(bs / summarize(ms).median).toFixed(2)} against convert + sync`;
    process.stdout.write(
      `\n${formatTable(
        ['', 'seconds', 'MiB/s (virtual size)'],
        [
          row('qemu-img convert -O raw (baseline)', baseline),
          row('qemu-img convert -O raw, then sync', synced),
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
