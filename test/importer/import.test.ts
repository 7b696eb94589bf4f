// The importer (`launcher import`) with the real qemu-img and xz, against a local HTTP server:
// every source format reaches a disk.img that holds exactly the disk the image was made from;
// each failure ends with its contract reason and leaves no disk.img; a download reset part-way
// resumes with Range; an upload cut part-way resumes from HEAD's offset; the API answers only
// the callers the contract names. One case runs the real command for its exit code and
// termination message.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importerResult, importerStatus, type ImporterStatus, type ImportTask } from '../../api/contract/importer.js';
import { ImportError, ImportProgress, runImport, type ImporterServer, type RunImportOptions } from '../../launcher/import/index.js';
import { controlCredentials, type ControlCredentials } from '../launcher/helpers/control.js';
import { DISK_BYTES, makeDiskImages, requireTools, sameBytes, type DiskImages } from './helpers/images.js';
import { startFileServer, type FileServer } from '../../harness/file-server.js';
import { importerCall } from './helpers/importer-client.js';

const exec = promisify(execFile);
const FAST_RETRY = { backoff: { initialMs: 50, maxMs: 200 }, stallMs: 5_000 };

let work: string;
let images: DiskImages;
let files: FileServer;
let creds: ControlCredentials;

beforeAll(async () => {
  await requireTools();
  work = await mkdtemp(join(tmpdir(), 'kubevmm-import-'));
  images = await makeDiskImages(join(work, 'images'));
  files = await startFileServer(images.dir);
  creds = await controlCredentials(join(work, 'credentials'), { name: 'img' });
}, 120_000);

afterAll(async () => {
  await files?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Fresh scratch and target directories for one import. */
async function dirs(): Promise<{ scratchDir: string; targetDir: string; targetDevice: string }> {
  const base = await mkdtemp(join(work, 'run-'));
  await Promise.all(['scratch', 'target'].map((d) => mkdir(join(base, d))));
  return { scratchDir: join(base, 'scratch'), targetDir: join(base, 'target'), targetDevice: join(base, 'no-device') };
}

function task(source: ImportTask['source'], capacityBytes = 64 * 1024 * 1024): ImportTask {
  return { source, target: { mode: 'Filesystem', capacityBytes } };
}

async function importOf(t: ImportTask, extra: Partial<RunImportOptions> = {}) {
  const d = await dirs();
  const run = runImport({ task: t, ...d, download: FAST_RETRY, ...extra });
  return { ...d, run };
}

/** An import serving its API on loopback; resolves once the API listens. */
async function servedImport(t: ImportTask): Promise<{ run: Promise<unknown>; url: string; targetDir: string }> {
  let listening!: (server: ImporterServer) => void;
  const server = new Promise<ImporterServer>((resolve) => (listening = resolve));
  const { run, targetDir } = await importOf(t, { server: { port: 0, host: '127.0.0.1', tls: creds.tls }, onListening: listening });
  return { run, targetDir, url: (await server).url };
}

/** HEAD /upload until the offset is past 0 (the importer notices a cut connection a moment after the client). */
async function offsetAfterCut(url: string): Promise<{ offset: number; length: unknown }> {
  for (let i = 0; ; i++) {
    const head = await importerCall(url, 'HEAD', '/upload', creds.subresources);
    const offset = Number(head.headers['upload-offset']);
    if (offset > 0 || i === 50) return { offset, length: head.headers['upload-length'] };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The reason an import failed with, and what the target directory holds after. */
async function failure(t: ImportTask): Promise<{ reason: string; message: string; target: string[] }> {
  const { run, targetDir } = await importOf(t);
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ImportError)) throw new Error(`expected an ImportError, got ${String(err)}`);
  return { reason: err.reason, message: err.message, target: await readdir(targetDir) };
}

describe('formats', () => {
  it.each([
    ['qcow2', () => images.qcow2, 'qcow2'],
    ['qcow2.gz', () => images.qcow2Gz, 'qcow2'],
    ['qcow2.xz', () => images.qcow2Xz, 'qcow2'],
    ['vmdk made with qemu-img convert', () => images.vmdk, 'vmdk'],
    ['OVA (its first disk by the OVF, not the first in the archive)', () => images.ova, 'vmdk'],
    ['raw', () => images.raw, 'raw'],
  ])('%s over HTTP becomes a disk.img holding the original disk', async (_name, file, format) => {
    const { run, targetDir, scratchDir } = await importOf(task({ kind: 'http', url: files.url(file()) }));
    expect(await run).toEqual({ format, virtualSizeBytes: DISK_BYTES, checksumVerified: false });
    expect(await readdir(targetDir)).toEqual(['disk.img']);
    expect(await sameBytes(join(targetDir, 'disk.img'), images.raw)).toBe(true);
    expect(await readdir(scratchDir)).toEqual([]);
  });

  it('an iso is imported as is and reported as iso', async () => {
    const { run, targetDir } = await importOf(task({ kind: 'http', url: files.url(images.iso) }));
    expect((await run).format).toBe('iso');
    expect(await sameBytes(join(targetDir, 'disk.img'), images.iso)).toBe(true);
  });

  it('checks the SHA-256 of the bytes as served (the .xz, not what it decompresses to)', async () => {
    const { run } = await importOf(task({ kind: 'http', url: files.url(images.qcow2Xz), sha256: await images.sha256(images.qcow2Xz) }));
    expect(await run).toEqual({ format: 'qcow2', virtualSizeBytes: DISK_BYTES, checksumVerified: true });
  });

  it('a file source (a registry image directory holding one disk) is converted from where it is', async () => {
    const dir = join(work, 'containerdisk');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'os.qcow2'), await readFile(images.qcow2));
    const { run, targetDir } = await importOf(task({ kind: 'file', path: dir }));
    expect((await run).format).toBe('qcow2');
    expect(await sameBytes(join(targetDir, 'disk.img'), images.raw)).toBe(true);
  });

  it('a VM disk copy (compare: false) writes the same bytes without reading them back; an import compares', async () => {
    // qemu-img behind a wrapper that notes each subcommand it is run with.
    const log = join(work, 'qemu-img.log');
    const wrapper = join(work, 'qemu-img-noting');
    await writeFile(wrapper, `#!/bin/sh\necho "$1" >> '${log}'\nexec qemu-img "$@"\n`, { mode: 0o755 });
    const commands = async (t: ImportTask) => {
      await rm(log, { force: true });
      const { run, targetDir } = await importOf(t, { qemuImg: wrapper });
      await run;
      expect(await sameBytes(join(targetDir, 'disk.img'), images.raw)).toBe(true);
      return (await readFile(log, 'utf8')).split('\n').filter(Boolean);
    };
    expect(await commands({ ...task({ kind: 'file', path: images.qcow2 }), compare: false })).toEqual(['info', 'convert']);
    expect(await commands(task({ kind: 'file', path: images.qcow2 }))).toEqual(['info', 'convert', 'compare']);
  });
});

describe('failures end with the contract reason and leave no disk.img', () => {
  it('404 is NotFound', async () => {
    expect(await failure(task({ kind: 'http', url: files.url('missing.qcow2') }))).toEqual({ reason: 'NotFound', message: expect.stringContaining('answered 404'), target: [] });
  });

  it('a wrong checksum is ChecksumMismatch', async () => {
    const got = await failure(task({ kind: 'http', url: files.url(images.qcow2), sha256: '0'.repeat(64) }));
    expect(got).toEqual({ reason: 'ChecksumMismatch', message: expect.stringContaining(await images.sha256(images.qcow2)), target: [] });
  });

  it('an HTML page is NotADiskImage, saying what it looks like', async () => {
    expect(await failure(task({ kind: 'http', url: files.url(images.html) }))).toEqual({ reason: 'NotADiskImage', message: expect.stringContaining('HTML'), target: [] });
  });

  it('an image larger than the claim is ClaimTooSmall, before anything is written', async () => {
    const got = await failure(task({ kind: 'http', url: files.url(images.qcow2) }, DISK_BYTES - 1));
    expect(got).toEqual({ reason: 'ClaimTooSmall', message: expect.stringContaining('at least 32Mi'), target: [] });
  });

  it('a qcow2 with a backing file is refused before qemu-img opens it', async () => {
    expect(await failure(task({ kind: 'http', url: files.url(images.overlay) }))).toEqual({ reason: 'UnsupportedFormat', message: expect.stringContaining('backing file'), target: [] });
  });
});

describe('transient failures', () => {
  it('a download reset part-way resumes with Range from where it stopped', async () => {
    const name = 'disk.qcow2.xz';
    files.behave(name, { resetAfter: 1024 * 1024 });
    const progress = new ImportProgress();
    const { run, targetDir } = await importOf(task({ kind: 'http', url: files.url(name), sha256: await images.sha256(images.qcow2Xz) }), { progress });
    expect((await run).checksumVerified).toBe(true);
    expect(await sameBytes(join(targetDir, 'disk.img'), images.raw)).toBe(true);
    const fetches = files.requests.filter((r) => r.path === `/${name}`).slice(-2);
    expect(fetches).toEqual([
      { path: `/${name}`, status: 200 },
      { path: `/${name}`, range: expect.stringMatching(/^bytes=\d+-$/), status: 206 },
    ]);
    expect(Number(/\d+/.exec(fetches[1]!.range!)![0])).toBeGreaterThanOrEqual(1024 * 1024);
    expect(progress.status()).toMatchObject({ phase: 'Done', retries: 1, percent: 100 });
  });

  it('a server without Range support sends it all again and the bytes already taken are skipped', async () => {
    files.behave('disk.vmdk', { resetAfter: 512 * 1024, noRange: true });
    const { run, targetDir } = await importOf(task({ kind: 'http', url: files.url(images.vmdk), sha256: await images.sha256(images.vmdk) }));
    expect((await run).checksumVerified).toBe(true);
    expect(await sameBytes(join(targetDir, 'disk.img'), images.raw)).toBe(true);
  });
});

describe('the API', () => {
  it('reports progress rising to the operator while downloading, and nothing to anyone else', async () => {
    files.behave('disk.qcow2.gz', { trickleMs: 20 });
    const { run, url } = await servedImport(task({ kind: 'http', url: files.url(images.qcow2Gz) }));
    const seen: ImporterStatus[] = [];
    let finished = false;
    const ended = run.finally(() => (finished = true));
    while (!finished) {
      const reply = await importerCall(url, 'GET', '/status', creds.operator).catch(() => undefined);
      if (reply?.status === 200) seen.push(importerStatus.parse(reply.body));
      if (seen.length === 3) {
        expect((await importerCall(url, 'GET', '/status', creds.subresources)).status).toBe(403);
        expect((await importerCall(url, 'GET', '/status', creds.stranger)).status).toBe(401);
        expect((await importerCall(url, 'HEAD', '/upload', creds.subresources)).status).toBe(409);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await ended;
    const downloading = seen.filter((s) => s.phase === 'Downloading').map((s) => s.percent);
    expect(downloading.length).toBeGreaterThan(3);
    expect(downloading[downloading.length - 1]).toBeGreaterThan(downloading[0]!);
    expect([...downloading].sort((a, b) => a - b)).toEqual(downloading);
  });

  it('an upload cut part-way resumes from the offset HEAD gives and ends imported', async () => {
    const { run, url, targetDir } = await servedImport(task({ kind: 'upload' }));
    const body = await readFile(images.qcow2Gz);
    const first = { 'upload-offset': '0', 'upload-length': String(body.length) };
    expect((await importerCall(url, 'PUT', '/upload', creds.operator, { body, headers: first })).status).toBe(403);
    expect((await importerCall(url, 'HEAD', '/upload', creds.subresources)).headers['upload-offset']).toBe('0');
    await importerCall(url, 'PUT', '/upload', creds.subresources, { body, cutAfter: 1024 * 1024, headers: first });
    const { offset, length } = await offsetAfterCut(url);
    expect(length).toBe(String(body.length));
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(1024 * 1024);
    const wrong = await importerCall(url, 'PUT', '/upload', creds.subresources, { body: body.subarray(0, 10), headers: { 'upload-offset': '0' } });
    expect(wrong).toMatchObject({ status: 409, body: { reason: 'OffsetMismatch', offset } });
    const rest = await importerCall(url, 'PUT', '/upload', creds.subresources, { body: body.subarray(offset), headers: { 'upload-offset': String(offset) } });
    expect(rest.status).toBe(201);
    expect(await run).toEqual({ format: 'qcow2', virtualSizeBytes: DISK_BYTES, checksumVerified: false });
    expect(await sameBytes(join(targetDir, 'disk.img'), images.raw)).toBe(true);
  });
});

describe('launcher import, the command', () => {
  async function command(t: ImportTask): Promise<{ code: number; termination: string; target: string[] }> {
    const d = await dirs();
    const taskFile = join(d.scratchDir, '..', 'task.json');
    const termination = join(d.scratchDir, '..', 'termination-log');
    await writeFile(taskFile, JSON.stringify(t));
    const args = ['tsx', 'launcher/main.ts', 'import', '--task', taskFile, '--port', '0', '--host', '127.0.0.1', '--credentials', join(work, 'credentials'), '--scratch', d.scratchDir, '--target-dir', d.targetDir, '--termination-log', termination];
    const code = await exec('npx', args, { cwd: process.cwd() }).then(
      () => 0,
      (err: { code?: number }) => err.code ?? -1,
    );
    return { code, termination: await readFile(termination, 'utf8'), target: await readdir(d.targetDir) };
  }

  it('exits 0 with the importer result as its termination message once disk.img is in place', async () => {
    const got = await command(task({ kind: 'http', url: files.url(images.qcow2), sha256: await images.sha256(images.qcow2) }));
    expect(got.code).toBe(0);
    expect(importerResult.parse(JSON.parse(got.termination))).toEqual({ format: 'qcow2', virtualSizeBytes: DISK_BYTES, checksumVerified: true });
    expect(got.target).toEqual(['disk.img']);
  }, 60_000);

  it('exits 1 with "Reason: message" on a permanent failure', async () => {
    const got = await command(task({ kind: 'http', url: files.url('gone.img') }));
    expect(got).toEqual({ code: 1, termination: expect.stringMatching(/^NotFound: .*answered 404.*\n$/), target: [] });
  }, 60_000);
});
