// Getting the source onto local disk as one plain file, whatever it came as: an http download
// (decompressed while it arrives, its SHA-256 checked), an upload (received by the API, then
// decompressed when compressed), or a file in the pod (a registry image's disk, a source claim).

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { ImportSourceSpec } from '../../api/contract/importer.js';
import { download, SourceChanged, type Downloaded, type DownloadOptions, type DownloadTls } from './download.js';
import { ImportError } from './errors.js';
import type { ImportProgress } from './progress.js';
import type { UploadReceiver } from './upload.js';
import { fileCompression, unpackFile, unpackStream, type UnpackOptions } from './unpack.js';

/** The local file to inspect and convert. */
export interface LocalSource {
  path: string;
  /** True when the SHA-256 given in the task matched. */
  checksumVerified: boolean;
  /** A Block source claim (a device here, or pulled from its source pod): its content is copied as a raw disk whatever it is. */
  blockDevice: boolean;
}

/** Options of {@link localSource}. */
export interface LocalSourceOptions extends UnpackOptions {
  source: ImportSourceSpec;
  scratchDir: string;
  progress: ImportProgress;
  /** Present for an upload source. */
  upload?: UploadReceiver;
  /** A `claim` source: the TLS towards its source pod (the importer's client certificate, the launcher CA). */
  claimTls?: Omit<DownloadTls, 'servername'>;
  /** Download settings (tests shorten the backoff). */
  download?: Pick<DownloadOptions, 'backoff' | 'stallMs' | 'maxFailuresWithoutProgress'>;
  log?: (line: string) => void;
}

/** Scratch file names. */
export const SCRATCH = { download: 'source.img', upload: 'upload.img', unpacked: 'unpacked.img', ovaDisk: 'ova-disk.img' } as const;

/** How often a file that changed on the server mid-download is fetched again from the start. */
const MAX_SOURCE_CHANGES = 3;

/** What to download: an http source, or a source pod's claim (with its TLS). */
interface Fetch {
  url: string;
  sha256?: string;
  tls?: DownloadTls;
}

async function fromHttp(options: LocalSourceOptions, spec: Fetch): Promise<LocalSource> {
  const dest = join(options.scratchDir, SCRATCH.download);
  for (let changes = 0; ; changes++) {
    const sink = new PassThrough({ highWaterMark: 1024 * 1024 });
    const unpacked = unpackStream(sink, dest, options);
    const fetched = download({ ...options.download, url: spec.url, sink, progress: options.progress, hash: spec.sha256 !== undefined, ...(spec.tls ? { tls: spec.tls } : {}), ...(options.log ? { log: options.log } : {}) }).catch((err: unknown) => {
      sink.destroy();
      throw err;
    });
    const [result, unpackResult] = await Promise.allSettled([fetched, unpacked]);
    if (result.status === 'rejected' && result.reason instanceof SourceChanged && changes < MAX_SOURCE_CHANGES) {
      options.log?.(`download: ${result.reason.message}; starting again`);
      options.progress.restartReading();
      continue;
    }
    if (result.status === 'rejected' && result.reason instanceof SourceChanged) throw new ImportError({ reason: 'HttpError', message: result.reason.message });
    // The download's own failure explains the end; when the output failed first (a corrupt .gz), that does.
    if (result.status === 'rejected' && (result.reason instanceof ImportError || unpackResult.status === 'fulfilled')) throw result.reason;
    if (unpackResult.status === 'rejected') throw unpackResult.reason;
    if (result.status === 'rejected') throw result.reason;
    return { path: dest, checksumVerified: checkSha256(spec.sha256, result.value, options.progress), blockDevice: false };
  }
}

/** Whether the download's SHA-256 was given and matched; throws ChecksumMismatch when it was given and differs. */
function checkSha256(expected: string | undefined, got: Downloaded, progress: ImportProgress): boolean {
  if (expected === undefined) return false;
  progress.verifying();
  if (got.sha256 !== expected) {
    throw new ImportError({ reason: 'ChecksumMismatch', message: `the SHA-256 of the ${got.bytes} bytes served is ${got.sha256}, not ${expected} given in source.http.sha256` });
  }
  progress.checksumMatched();
  return true;
}

/** A file path, or a directory holding exactly one regular file (a containerDisk's /disk). */
async function resolveFile(path: string): Promise<{ path: string; size: number; blockDevice: boolean }> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new ImportError({ reason: 'NotFound', message: `the source ${path} is not there (${err.code ?? err.message})` });
  });
  if (info.isBlockDevice()) return { path, size: 0, blockDevice: true };
  if (info.isFile()) return { path, size: info.size, blockDevice: false };
  if (!info.isDirectory()) throw new ImportError({ reason: 'NotADiskImage', message: `the source ${path} is neither a file, a directory nor a block device` });
  const entries = await readdir(path, { withFileTypes: true });
  const files = entries.filter((e) => e.isFile() || e.isSymbolicLink());
  if (files.length !== 1) throw new ImportError({ reason: files.length ? 'ImportFailed' : 'NotFound', message: `the source directory ${path} must hold exactly one file, the disk image; it holds ${files.length ? files.map((f) => f.name).join(', ') : 'none'}` });
  return resolveFile(join(path, files[0]!.name));
}

/** A local file (upload or file source), decompressed into scratch when compressed. */
async function plainLocal(path: string, options: LocalSourceOptions, blockDevice: boolean): Promise<LocalSource> {
  if (blockDevice || (await fileCompression(path)) === 'none') return { path, checksumVerified: false, blockDevice };
  const dest = join(options.scratchDir, SCRATCH.unpacked);
  await unpackFile(path, dest, () => undefined, options);
  return { path: dest, checksumVerified: false, blockDevice: false };
}

/**
 * A claim of another namespace, pulled from its source pod. Its refusals are told in terms of
 * the copy, not of a public URL; a Block claim's bytes are a raw disk whatever they hold.
 */
async function fromClaim(options: LocalSourceOptions, spec: Extract<ImportSourceSpec, { kind: 'claim' }>): Promise<LocalSource> {
  if (!options.claimTls) throw new ImportError({ reason: 'ImportFailed', message: 'a claim source needs the importer\'s client certificate (client.crt, client.key) in its credentials' });
  try {
    const local = await fromHttp(options, { url: spec.url, tls: { ...options.claimTls, servername: spec.serverName } });
    return { ...local, blockDevice: spec.mode === 'Block' };
  } catch (err) {
    if (!(err instanceof ImportError) || (err.reason !== 'HttpError' && err.reason !== 'NotFound')) throw err;
    throw new ImportError({ reason: err.reason, message: `copying the source claim from its source pod failed: ${err.message}`, cause: err });
  }
}

/** The source as a local plain file. */
export async function localSource(options: LocalSourceOptions): Promise<LocalSource> {
  const { source, progress } = options;
  if (source.kind === 'http') return fromHttp(options, source);
  if (source.kind === 'claim') return fromClaim(options, source);
  if (source.kind === 'upload') {
    if (!options.upload) throw new ImportError({ reason: 'ImportFailed', message: 'an upload import needs the importer API to receive it' });
    options.log?.('waiting for the upload (kubevmm image upload)');
    await options.upload.complete;
    return plainLocal(join(options.scratchDir, SCRATCH.upload), options, false);
  }
  const file = await resolveFile(source.path);
  progress.reading(file.size);
  progress.read(file.size);
  return plainLocal(file.path, options, file.blockDevice);
}
