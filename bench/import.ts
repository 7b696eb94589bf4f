// Import throughput: a 1 GiB qcow2 (every cluster allocated) imported over local HTTP by the
// importer (download into scratch, qemu-img info, convert to raw, fsync, compare) against
// `qemu-img convert -O raw` of the same file, in the same process, rounds interleaved.
//
//   npx tsx bench/import.ts [--runs N] [--size-mib M]     (default 3 rounds of 1024 MiB)

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
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
 * The file served by another process (Python's http.server), as a mirror in another pod would
 * be: the importer's process does only the importing.
 */
async function startServer(dir: string): Promise<{ url(name: string): string; close(): void }> {
  const child = spawn('python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('error', (err) => reject(new Error(`python3 is needed to serve the file (apt-get install python3): ${err.message}`)));
    child.on('exit', (code) => reject(new Error(`python3 -m http.server exited ${code}`)));
  });
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
    const baseline: number[] = [];
    const imported: number[] = [];
    const synced: number[] = [];
    const phases: Record<string, number[]> = {};
    for (let round = 0; round < runs; round++) {
      const out = join(work, `round-${round}`);
      await mkdir(join(out, 'scratch'), { recursive: true });
      await mkdir(join(out, 'target'), { recursive: true });
      const convert = async () => {
        baseline.push(await timed(() => exec('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, join(out, 'convert.raw')])));
        // The importer syncs what it wrote before it says done; the bare convert leaves it in the page cache.
        synced.push(baseline[baseline.length - 1]! + (await timed(() => exec('sync', ['-f', join(out, 'convert.raw')]))));
      };
      const importer = async () => {
        const progress = new ImportProgress();
        const watch = watchPhases(progress);
        imported.push(await timed(() => runImport({ task: { source: { kind: 'http', url: server.url('disk.qcow2') }, target: { mode: 'Filesystem', capacityBytes: bytes } }, scratchDir: join(out, 'scratch'), targetDir: join(out, 'target'), targetDevice: '/nonexistent', progress })));
        for (const [phase, ms] of Object.entries(watch.stop())) (phases[phase] ??= []).push(ms);
      };
      // Alternate which goes first, so neither always meets a warmer page cache.
      if (round % 2 === 0) await convert().then(importer);
      else await importer().then(convert);
      await rm(out, { recursive: true, force: true });
    }
    const mbps = (ms: number) => bytes / MiB / (ms / 1000);
    const b = summarize(baseline);
    const i = summarize(imported);
    process.stdout.write(
      `\n${formatTable(
        ['', 'seconds', 'MiB/s (virtual size)'],
        [
          ['qemu-img convert -O raw (baseline)', formatSummary(summarize(baseline.map((ms) => ms / 1000)), 2), formatSummary(summarize(baseline.map(mbps)))],
          ['qemu-img convert -O raw, then sync', formatSummary(summarize(synced.map((ms) => ms / 1000)), 2), formatSummary(summarize(synced.map(mbps)))],
          ['importer over HTTP', formatSummary(summarize(imported.map((ms) => ms / 1000)), 2), formatSummary(summarize(imported.map(mbps)))],
          ...Object.entries(phases).map(([phase, ms]) => [`  importer phase ${phase}`, formatSummary(summarize(ms.map((m) => m / 1000)), 2), '']),
        ],
      )}\n\nthroughput ratio importer / qemu-img convert (medians): ${(b.median / i.median).toFixed(2)} (goal >= 0.8)\nthroughput ratio importer / qemu-img convert + sync (medians): ${(summarize(synced).median / i.median).toFixed(2)}\n`,
    );
  } finally {
    server.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
