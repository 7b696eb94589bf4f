// Writing the image: `qemu-img convert` to raw, sparse (zero runs of 4 KiB and more are not
// written), onto the target, with direct I/O where the target allows it; then fsync, and
// `qemu-img compare` of the written target with the source, so that a success means the bytes
// the guest will read are the image's (skipped where the caller says the source was already
// checked). A Filesystem target is written under a temporary name and renamed to disk.img only
// after all that.

import { execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { PROGRAMS } from '../programs.js';
import { ImportError } from './errors.js';
import type { ImageVerdict } from './inspect.js';

const exec = promisify(execFile);

/** Where the image goes. */
export type ConvertTarget = { mode: 'Filesystem'; path: string } | { mode: 'Block'; device: string };

/** Options of {@link writeImage}. */
export interface WriteImageOptions {
  source: string;
  verdict: ImageVerdict;
  target: ConvertTarget;
  /** Conversion progress, 0-100. */
  onProgress?: (percent: number) => void;
  /** Conversion is over; syncing and comparing start. */
  onVerify?: () => void;
  /**
   * Compare the written target with the source (default true). A source streamed over the
   * network would be read a second time: there the checksum of the bytes served and
   * qemu-img's own success stand for it.
   */
  compare?: boolean;
  /** Last check before a Filesystem target takes its final name (a checksum taken beside the conversion). */
  beforeCommit?: () => Promise<void>;
  qemuImg?: string;
}

/** The temporary name a Filesystem target is written under. */
export function temporaryName(path: string): string {
  return `${path}.importing`;
}

/** Arguments of `qemu-img convert` (pure). */
export function convertArgs(options: { source: string; format: string; output: string; block: boolean; direct: boolean }): string[] {
  return [
    'convert',
    '-p',
    // The format qemu-img info found: never probed again, so a raw image cannot pass for another format.
    '-f', options.format,
    '-O', 'raw',
    // Sparse: runs of zeros are skipped (a Block target is zeroed where needed: qemu-img knows a device is not zero-initialised).
    '-S', '4k',
    // Out-of-order writes with several coroutines: the source is local, the target is the bottleneck.
    '-W', '-m', '8',
    // Direct I/O onto the target: the image does not pass through the pod's page cache (where it
    // would count against the pod's memory and be written back only after the conversion), and
    // the closing flush has little left to do.
    ...(options.direct ? ['-t', 'none'] : []),
    ...(options.block ? ['-n'] : []),
    options.source,
    options.output,
  ];
}

/** The written target, cut to the image's virtual size, as a qemu `json:` image (a device is larger than the image). */
export function targetSpec(target: ConvertTarget, virtualSizeBytes: number): string {
  const file = target.mode === 'Block' ? { driver: 'host_device', filename: target.device } : { driver: 'file', filename: temporaryName(target.path) };
  return `json:${JSON.stringify({ driver: 'raw', size: virtualSizeBytes, file })}`;
}

function runConvert(qemuImg: string, args: string[], onProgress?: (percent: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(qemuImg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      const all = [...text.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
      if (all.length && onProgress) onProgress(Number(all[all.length - 1]![1]));
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.on('error', (err) => reject(new ImportError({ reason: 'ImportFailed', message: `cannot run ${qemuImg}: ${err.message}`, cause: err })));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new ImportError({ reason: 'ImportFailed', message: `qemu-img convert failed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').pop() ?? ''}` }));
    });
  });
}

/**
 * Whether the output can be opened for direct I/O (O_DIRECT); a file system that refuses it
 * (EINVAL) gets the page cache instead. A Filesystem output is created empty by the probe, as
 * `qemu-img convert` would create it.
 */
export async function directWritable(output: string, block: boolean): Promise<boolean> {
  const flags = constants.O_WRONLY | constants.O_DIRECT | (block ? 0 : constants.O_CREAT);
  try {
    await (await open(output, flags, 0o600)).close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') return false;
    throw err;
  }
}

/** fsync a file, device or directory. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A Filesystem target must hold exactly the image's virtual size. */
async function checkSize(options: WriteImageOptions): Promise<void> {
  const { target, verdict } = options;
  if (target.mode !== 'Filesystem') return;
  const { size } = await stat(temporaryName(target.path));
  if (size !== verdict.virtualSizeBytes) throw new ImportError({ reason: 'ImportFailed', message: `the written disk.img holds ${size} bytes, not the image's ${verdict.virtualSizeBytes}` });
}

async function verifyWritten(options: WriteImageOptions, qemuImg: string): Promise<void> {
  const { target, verdict } = options;
  await checkSize(options);
  try {
    await exec(qemuImg, ['compare', '-q', '-f', verdict.qemuFormat, options.source, targetSpec(target, verdict.virtualSizeBytes)], { maxBuffer: 1024 * 1024 });
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    const what = e.code === 1 ? 'differs from the image' : `cannot be compared with the image: ${(e.stderr ?? String(err)).trim()}`;
    throw new ImportError({ reason: 'ImportFailed', message: `the written target ${what}`, cause: err });
  }
}

/** Convert, sync, verify and (Filesystem) rename into place. Nothing is left at the final name on failure. */
export async function writeImage(options: WriteImageOptions): Promise<void> {
  const qemuImg = options.qemuImg ?? PROGRAMS.qemuImg;
  const { target } = options;
  const output = target.mode === 'Block' ? target.device : temporaryName(target.path);
  if (target.mode === 'Filesystem') await rm(output, { force: true });
  try {
    const block = target.mode === 'Block';
    const direct = await directWritable(output, block);
    await runConvert(qemuImg, convertArgs({ source: options.source, format: options.verdict.qemuFormat, output, block, direct }), options.onProgress);
    options.onVerify?.();
    await syncPath(output);
    if (options.compare === false) await checkSize(options);
    else await verifyWritten(options, qemuImg);
    await options.beforeCommit?.();
    if (target.mode === 'Filesystem') {
      await rename(output, target.path);
      await syncPath(dirname(target.path));
    }
  } catch (err) {
    if (target.mode === 'Filesystem') await rm(output, { force: true });
    throw err;
  }
}
