// A copy of a claim from another namespace (ADR 0019) with real processes and no Kubernetes:
// the real `launcher serve-source` serves a "claim" directory (its disk.img) with the
// credentials the operator issues, and an importer pulls it with its client certificate,
// through a proxy that cuts the first connection part-way (the importer resumes with Range),
// to a verified disk.img. The real `launcher import` reads its client certificate from its
// credentials directory; an importer of another image is refused by the source; an importer
// checking for another image's source refuses the server.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sourceServerName } from '../../api/contract/claim-source.js';
import { importerResult, type ImportTask } from '../../api/contract/importer.js';
import { importerClientTls, testAuthority, writeLauncherCredentials, writeSourceCredentials, type LauncherAuthority } from '../../harness/pki.js';
import { ImportError, runImport } from '../../launcher/import/index.js';
import { DISK_BYTES, makeDiskImages, requireTools, sameBytes, type DiskImages } from './helpers/images.js';

const exec = promisify(execFile);
const UID = '2a7c1e90-5b3d-4f8e-9c6a-0d1e2f3a4b5c';
const OTHER = 'ffeeddcc-bbaa-4998-8877-665544332211';
const FAST_RETRY = { backoff: { initialMs: 50, maxMs: 200 }, stallMs: 5_000, maxFailuresWithoutProgress: 3 };

let work: string;
let images: DiskImages;
let authority: LauncherAuthority;
const sources: ChildProcess[] = [];

/** A running `launcher serve-source` and what it logged. */
interface Source {
  url: string;
  port: number;
  log: () => string;
}

/** Starts the real source process on a "claim" directory holding `disk` as its disk.img. */
async function startSource(disk: string, mode: 'Filesystem' | 'Block' = 'Filesystem'): Promise<Source> {
  const dir = await mkdtemp(join(work, 'source-'));
  await mkdir(join(dir, 'claim'));
  await copyFile(disk, join(dir, 'claim', 'disk.img'));
  await writeFile(join(dir, 'task.json'), JSON.stringify({ imageUid: UID, mode }));
  await writeSourceCredentials(authority, { name: 'debian', namespace: 'team-b', uid: UID }, join(dir, 'credentials'));
  const args = ['tsx', 'launcher/main.ts', 'serve-source', '--task', join(dir, 'task.json'), '--port', '0', '--host', '127.0.0.1', '--credentials', join(dir, 'credentials'), '--claim-dir', join(dir, 'claim'), '--claim-device', join(dir, 'claim', 'disk.img')];
  // Its own process group: npx, tsx and node all go with one signal at the end.
  const child = spawn('npx', args, { cwd: process.cwd(), stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  sources.push(child);
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve-source did not start:\n${log}`)), 60_000);
    child.stderr!.on('data', () => {
      const m = /serving .* on https:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`serve-source exited ${code}:\n${log}`)));
  });
  return { url: `https://127.0.0.1:${port}/disk`, port, log: () => log };
}

/** A TCP proxy to `port` that cuts its first connection after `cutAfter` bytes towards the client. */
async function cuttingProxy(port: number, cutAfter: number): Promise<{ url: string; close: () => void }> {
  let first = true;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const cut = first;
    first = false;
    let passed = 0;
    upstream.on('data', (chunk: Buffer) => {
      passed += chunk.length;
      client.write(chunk);
      if (cut && passed > cutAfter) {
        client.resetAndDestroy();
        upstream.destroy();
      }
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/disk`, close: () => server.close() };
}

async function dirs() {
  const base = await mkdtemp(join(work, 'run-'));
  await Promise.all(['scratch', 'target'].map((d) => mkdir(join(base, d))));
  return { scratchDir: join(base, 'scratch'), targetDir: join(base, 'target'), targetDevice: join(base, 'no-device') };
}

function task(url: string, mode: 'Filesystem' | 'Block' = 'Filesystem', serverUid = UID): ImportTask {
  return { source: { kind: 'claim', url, serverName: sourceServerName(serverUid), mode }, target: { mode: 'Filesystem', capacityBytes: 64 * 1024 * 1024 } };
}

/** Runs the importer in this process as the importer of image `clientUid`. */
async function pull(t: ImportTask, clientUid = UID) {
  const d = await dirs();
  const { cert, key, ca } = await importerClientTls(authority, clientUid);
  const run = runImport({ task: t, ...d, claimTls: { cert, key, ca }, download: FAST_RETRY });
  return { ...d, run };
}

async function failure(t: ImportTask, clientUid = UID): Promise<{ reason: string; message: string; target: string[] }> {
  const { run, targetDir } = await pull(t, clientUid);
  const err = await run.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof ImportError)) throw new Error(`expected an ImportError, got ${String(err)}`);
  return { reason: err.reason, message: err.message, target: await readdir(targetDir) };
}

beforeAll(async () => {
  await requireTools();
  work = await mkdtemp(join(tmpdir(), 'kubevmm-claim-copy-'));
  images = await makeDiskImages(join(work, 'images'));
  authority = await testAuthority();
}, 120_000);

afterAll(async () => {
  for (const child of sources) if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a claim copied from its source pod', () => {
  it('the real importer pulls a qcow2 disk.img with its client certificate and writes the verified disk', async () => {
    const source = await startSource(images.qcow2);
    const d = await dirs();
    const credentials = join(work, 'importer-credentials');
    await writeLauncherCredentials(authority, { name: 'debian', namespace: 'team-b', uid: UID }, credentials);
    const client = await importerClientTls(authority, UID);
    await writeFile(join(credentials, 'client.crt'), client.cert);
    await writeFile(join(credentials, 'client.key'), client.key);
    await writeFile(join(work, 'task.json'), JSON.stringify(task(source.url)));
    const termination = join(work, 'termination-log');
    const args = ['tsx', 'launcher/main.ts', 'import', '--task', join(work, 'task.json'), '--port', '0', '--host', '127.0.0.1', '--credentials', credentials, '--scratch', d.scratchDir, '--target-dir', d.targetDir, '--termination-log', termination];
    const code = await exec('npx', args, { cwd: process.cwd() }).then(() => 0, (err: { code?: number; stderr?: string }) => {
      throw new Error(`launcher import exited ${err.code}: ${err.stderr}`);
    });
    expect(code).toBe(0);
    expect(importerResult.parse(JSON.parse(await readFile(termination, 'utf8')))).toEqual({ format: 'qcow2', virtualSizeBytes: DISK_BYTES, checksumVerified: false });
    expect(await sameBytes(join(d.targetDir, 'disk.img'), images.raw)).toBe(true);
    expect(await readdir(d.scratchDir)).toEqual([]);
    expect(source.log()).toMatch(new RegExp(`kubevmm-importer ${UID}: bytes 0-`));
  }, 180_000);

  it('a connection cut part-way resumes with Range from where it stopped, and the disk is whole', async () => {
    const source = await startSource(images.raw);
    const proxy = await cuttingProxy(source.port, 1024 * 1024);
    try {
      const { run, targetDir } = await pull(task(proxy.url));
      expect(await run).toEqual({ format: 'raw', virtualSizeBytes: DISK_BYTES, checksumVerified: false });
      expect(await sameBytes(join(targetDir, 'disk.img'), images.raw)).toBe(true);
      const ranges = [...source.log().matchAll(/: bytes (\d+)-/g)].map((m) => Number(m[1]));
      expect(ranges[0]).toBe(0);
      expect(ranges[1]).toBeGreaterThan(0);
    } finally {
      proxy.close();
    }
  }, 180_000);

  it('a Block claim is copied as a raw disk whatever it holds; from a Filesystem claim the same bytes are NotADiskImage', async () => {
    const noise = join(work, 'noise.bin');
    await writeFile(noise, randomBytes(4 * 1024 * 1024));
    const block = await startSource(noise, 'Block');
    const { run, targetDir } = await pull(task(block.url, 'Block'));
    expect(await run).toEqual({ format: 'raw', virtualSizeBytes: 4 * 1024 * 1024, checksumVerified: false });
    expect(await sameBytes(join(targetDir, 'disk.img'), noise)).toBe(true);
    const file = await startSource(noise);
    expect(await failure(task(file.url))).toEqual({ reason: 'NotADiskImage', message: expect.any(String), target: [] });
  }, 180_000);

  it('refuses the importer of another image (403), and an importer refuses a source that is not its image’s', async () => {
    const source = await startSource(images.qcow2);
    const foreign = await failure(task(source.url), OTHER);
    expect(foreign).toEqual({ reason: 'HttpError', message: expect.stringMatching(/^copying the source claim from its source pod failed: .*answered 403/), target: [] });
    expect(source.log()).toContain(`refused GET /disk by kubevmm-importer ${OTHER}`);
    const impostor = await failure(task(source.url, 'Filesystem', OTHER));
    expect(impostor).toEqual({ reason: 'HttpError', message: expect.stringMatching(/TLS failed/), target: [] });
  }, 180_000);
});
