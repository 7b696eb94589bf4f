// One import from start to end: the API (progress, uploads), an http image streamed straight
// onto the target when it can be (stream.ts), else the source made local, an OVA's first disk
// taken out, qemu-img's verdict, and the conversion onto the target. Resolves with
// the importer result only when the target was written, synced and compared with the image.

import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImporterResult, ImportTask } from '../../api/contract/importer.js';
import { writeImage, type ConvertTarget } from './convert.js';
import { asImportError, ImportError } from './errors.js';
import { headerRefusal, imageInfo, judgeImage, readHead } from './inspect.js';
import { extractOvaDisk } from './ova.js';
import { ImportProgress } from './progress.js';
import { startImporterServer, type ImporterServer, type ImporterServerOptions } from './server.js';
import { isTar } from './sniff.js';
import { localSource, SCRATCH, type LocalSourceOptions } from './source.js';
import { NBD_SOCKET, probeStreamable, streamImage, StreamFailed } from './stream.js';
import { fileCompression, unpackFile } from './unpack.js';
import { UploadReceiver } from './upload.js';

/** The Filesystem target's file name at the claim's root. */
export const TARGET_FILE = 'disk.img';

/** Options of {@link runImport}. */
export interface RunImportOptions {
  task: ImportTask;
  scratchDir: string;
  /** Filesystem targets: the claim's root. */
  targetDir: string;
  /** Block targets: the claim's device. */
  targetDevice: string;
  /** The API; omitted: none (an upload then cannot be received). */
  server?: Pick<ImporterServerOptions, 'port' | 'host' | 'tls'>;
  /** Told the API's address once it listens. */
  onListening?: (server: ImporterServer) => void;
  progress?: ImportProgress;
  qemuImg?: string;
  xz?: string;
  nbdkit?: string;
  /** false: never stream an http source, always download it first (tests of the download path). */
  stream?: boolean;
  download?: LocalSourceOptions['download'];
  /** A `claim` source: the importer's client certificate and the CA its source pod's certificate chains to. */
  claimTls?: LocalSourceOptions['claimTls'];
  log?: (line: string) => void;
}

/** Bytes of a block device, from sysfs (its fstat size is 0); undefined when sysfs does not say. */
export async function blockDeviceBytes(device: string): Promise<number | undefined> {
  const { rdev } = await stat(device, { bigint: true });
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  const sectors = await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8').catch(() => undefined);
  return sectors && /^\d+\s*$/.test(sectors) ? Number(sectors.trim()) * 512 : undefined;
}

async function targetOf(options: RunImportOptions): Promise<{ target: ConvertTarget; capacityBytes: number }> {
  const { task } = options;
  if (task.target.mode === 'Filesystem') return { target: { mode: 'Filesystem', path: join(options.targetDir, TARGET_FILE) }, capacityBytes: task.target.capacityBytes };
  const device = await blockDeviceBytes(options.targetDevice).catch((err: NodeJS.ErrnoException) => {
    throw new ImportError({ reason: 'ImportFailed', message: `the target device ${options.targetDevice} is not there (${err.code ?? err.message})` });
  });
  return { target: { mode: 'Block', device: options.targetDevice }, capacityBytes: Math.min(task.target.capacityBytes, device ?? Number.MAX_SAFE_INTEGER) };
}

/** The disk inside: an OVA's first disk (itself decompressed when the OVF says gzip). */
async function diskFile(path: string, options: RunImportOptions): Promise<string> {
  if (!isTar(await readHead(path))) return path;
  const extracted = join(options.scratchDir, SCRATCH.ovaDisk);
  const member = await extractOvaDisk(path, extracted);
  options.log?.(`OVA: importing its first disk, ${member.name} (${member.size} bytes)`);
  if ((await fileCompression(extracted)) === 'none') return extracted;
  const unpacked = `${extracted}.unpacked`;
  await unpackFile(extracted, unpacked, () => undefined, options);
  return unpacked;
}

/** A full disk while writing is the claim's size, whichever way the image came. */
function noSpace(err: unknown): unknown {
  if (!/No space left on device/i.test((err as Error).message)) return err;
  return new ImportError({ reason: 'ClaimTooSmall', message: `the claim filled up while the image was written (${(err as Error).message}); give spec.storage.size more room` });
}

/**
 * An http source onto a Filesystem target, streamed (stream.ts) when the server and the image
 * allow it; undefined when they do not, or when streaming failed short of a verdict (logged):
 * the download path follows.
 */
async function streamed(options: RunImportOptions, progress: ImportProgress, target: ConvertTarget, capacityBytes: number): Promise<ImporterResult | undefined> {
  const { source } = options.task;
  if (source.kind !== 'http' || target.mode !== 'Filesystem' || options.stream === false) return undefined;
  const remote = await probeStreamable(source.url, options.download?.stallMs);
  if (!remote) return undefined;
  try {
    const { verdict, checksumVerified } = await streamImage({
      source: remote,
      ...(source.sha256 ? { sha256: source.sha256 } : {}),
      scratchDir: options.scratchDir,
      capacityBytes,
      progress,
      write: (uri, verdict, hooks) =>
        writeImage({ source: uri, verdict, target, compare: false, beforeCommit: hooks.commit, onProgress: hooks.onProgress, ...(options.qemuImg ? { qemuImg: options.qemuImg } : {}) }).catch((err: unknown) => {
          throw noSpace(err);
        }),
      ...(options.nbdkit ? { nbdkit: options.nbdkit } : {}),
      ...(options.qemuImg ? { qemuImg: options.qemuImg } : {}),
      ...(options.download ? { download: options.download } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    return { format: verdict.format, virtualSizeBytes: verdict.virtualSizeBytes, checksumVerified };
  } catch (err) {
    if (!(err instanceof StreamFailed)) throw err;
    options.log?.(`streaming the image failed (${err.message}); downloading it first instead`);
    progress.restartReading();
    return undefined;
  }
}

async function importInto(options: RunImportOptions, progress: ImportProgress, upload: UploadReceiver | undefined): Promise<ImporterResult> {
  const { target, capacityBytes } = await targetOf(options);
  const direct = await streamed(options, progress, target, capacityBytes);
  if (direct) return direct;
  const local = await localSource({ ...options, source: options.task.source, progress, ...(upload ? { upload } : {}) });
  const file = local.blockDevice ? local.path : await diskFile(local.path, options);
  const head = await readHead(file);
  const early = headerRefusal(head);
  if (early) throw early;
  const verdict = judgeImage(await imageInfo(file, options.qemuImg), { file, head, capacityBytes, anyRaw: local.blockDevice });
  progress.detected(verdict.format, verdict.virtualSizeBytes);
  options.log?.(`${verdict.format} image of ${verdict.virtualSizeBytes} bytes; writing it to the ${target.mode === 'Block' ? 'device' : 'claim'}`);
  progress.converting();
  try {
    await writeImage({ source: file, verdict, target, compare: options.task.compare !== false, onProgress: (p) => progress.converting(p), onVerify: () => progress.verifying(), ...(options.qemuImg ? { qemuImg: options.qemuImg } : {}) });
  } catch (err) {
    throw noSpace(err);
  }
  return { format: verdict.format, virtualSizeBytes: verdict.virtualSizeBytes, checksumVerified: local.checksumVerified };
}

/** Run one import; throws an ImportError on a permanent failure (transient ones were retried inside). */
export async function runImport(options: RunImportOptions): Promise<ImporterResult> {
  const progress = options.progress ?? new ImportProgress();
  const upload = options.task.source.kind === 'upload' ? new UploadReceiver(join(options.scratchDir, SCRATCH.upload), progress) : undefined;
  await upload?.resume();
  const server = options.server ? await startImporterServer({ ...options.server, progress, ...(upload ? { upload } : {}), ...(options.log ? { log: options.log } : {}) }) : undefined;
  if (server) options.onListening?.(server);
  try {
    const result = await importInto(options, progress, upload);
    progress.done();
    return result;
  } catch (err) {
    const failure = asImportError(err);
    progress.failed(failure);
    throw failure;
  } finally {
    await Promise.all(Object.values(SCRATCH).map((name) => rm(join(options.scratchDir, name), { force: true })));
    await Promise.all([`${SCRATCH.ovaDisk}.unpacked`, `${SCRATCH.upload}.length`, NBD_SOCKET, `${NBD_SOCKET}.pid`].map((name) => rm(join(options.scratchDir, name), { force: true })));
    await server?.close();
  }
}
