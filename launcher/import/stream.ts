// Streaming an http(s) image straight onto a Filesystem target, without a copy in scratch:
// nbdkit's curl plugin serves the remote file as a read-only NBD export (a range request per
// read) and `qemu-img convert` reads the image from it, so the bytes are written once, as the
// conversion writes them, instead of once into scratch and again by the conversion (ADR 0017).
// A checksum is taken by a second, sequential GET while the conversion runs, and the target is
// renamed into place only once it matched.
//
// Only where nothing is lost by it: a server that answers a range request (206), an image that
// is not compressed nor an OVA (those need the whole file), a Filesystem target (a block device
// would be written before the checksum is known). Anything else, and any failure of the
// streamed attempt short of a verdict on the image, goes the download path instead.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROGRAMS } from '../programs.js';
import { download, fetchHead, type DownloadOptions } from './download.js';
import { ImportError } from './errors.js';
import { headerRefusal, imageInfo, judgeImage, type ImageVerdict } from './inspect.js';
import { ImportProgress } from './progress.js';
import { isTar, sniffCompression, SNIFF_BYTES } from './sniff.js';

/** The socket nbdkit listens on, in scratch. */
export const NBD_SOCKET = 'source.nbd';

/** A remote file that can be streamed: where it finally is, its size and first bytes. */
export interface Streamable {
  url: string;
  totalBytes: number;
  head: Buffer;
}

/**
 * Whether the answer to a range request for the first bytes allows streaming (pure): a 206 with
 * the file's total size, and content that is neither compressed nor a tar (OVA).
 */
export function streamableAnswer(answer: { status: number; url: string; total?: number; head: Buffer }): Streamable | undefined {
  if (answer.status !== 206 || answer.total === undefined || answer.total <= 0) return undefined;
  if (sniffCompression(answer.head).compression !== 'none' || isTar(answer.head)) return undefined;
  return { url: answer.url, totalBytes: answer.total, head: answer.head };
}

/**
 * nbdkit's arguments (pure). Each setting is one argv element, never a shell word; the curl
 * plugin may speak http(s) only (a redirect to file:// would read the pod's own files) and does
 * not follow redirects (the URL given is the final one the probe found); the retry filter
 * reopens the connection after a transient failure.
 */
export function nbdkitArgs(options: { socket: string; pidFile: string; url: string }): string[] {
  return [
    '--foreground', '--readonly', '--exit-with-parent',
    '--unix', options.socket,
    '--pidfile', options.pidFile,
    '--filter=retry',
    'curl',
    `url=${options.url}`,
    'protocols=http,https',
    'followlocation=false',
    'user-agent=kubevmm-importer',
  ];
}

/** The NBD URI qemu-img opens (pure; the socket is a path in scratch, no user input). */
export function nbdUri(socket: string): string {
  return `nbd+unix:///?socket=${socket}`;
}

/** Ask for the first bytes with a range request; undefined when the file cannot be streamed. */
export async function probeStreamable(url: string, stallMs = 60_000): Promise<Streamable | undefined> {
  const answer = await fetchHead(url, SNIFF_BYTES, stallMs).catch(() => undefined);
  return answer && streamableAnswer(answer);
}

interface Nbdkit {
  child: ChildProcess;
  uri: string;
  stop(): Promise<void>;
}

/** Start nbdkit on the URL; resolves once its socket listens (it writes the pid file then). */
async function startNbdkit(url: string, scratchDir: string, program: string): Promise<Nbdkit> {
  const socket = join(scratchDir, NBD_SOCKET);
  const pidFile = `${socket}.pid`;
  const child = spawn(program, nbdkitArgs({ socket, pidFile, url }), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  const exited = once(child, 'exit').catch(() => undefined);
  const failed = once(child, 'error').then(([err]) => err as Error);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  for (let waited = 0; waited < 10_000; waited += 20) {
    const ready = await stat(pidFile).then((s) => s.size > 0, () => false);
    if (ready) return { child, uri: nbdUri(socket), stop };
    const err = await Promise.race([failed, sleep(20).then(() => undefined)]);
    if (err || child.exitCode !== null) throw new Error(`nbdkit did not start: ${err?.message ?? stderr.trim().split('\n').pop() ?? `exit ${child.exitCode}`}`);
  }
  await stop();
  throw new Error('nbdkit did not listen within 10 s');
}

/** Options of {@link streamImage}. */
export interface StreamImageOptions {
  source: Streamable;
  sha256?: string;
  scratchDir: string;
  capacityBytes: number;
  progress: ImportProgress;
  /** Runs the conversion from `uri` (convert.ts's writeImage bound to the target): `commit` before the rename into place, `onProgress` 0-100. */
  write(uri: string, verdict: ImageVerdict, hooks: { commit: () => Promise<void>; onProgress: (percent: number) => void }): Promise<void>;
  nbdkit?: string;
  qemuImg?: string;
  download?: Pick<DownloadOptions, 'backoff' | 'stallMs' | 'maxFailuresWithoutProgress'>;
  log?: (line: string) => void;
}

/** Streaming itself failed (nbdkit, the network, qemu-img reading over NBD): the caller downloads instead. */
export class StreamFailed extends Error {}

/** Verdicts on the image that a download would only repeat. */
const FINAL: ReadonlySet<string> = new Set(['ChecksumMismatch', 'ClaimTooSmall']);

/** SHA-256 of the file as served, by a sequential GET that keeps nothing. */
async function hashRemote(options: StreamImageOptions): Promise<string | undefined> {
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const got = await download({ ...options.download, url: options.source.url, sink, progress: new ImportProgress(), hash: true });
  return got.sha256;
}

/**
 * Stream the image onto the target. Resolves with the verdict and whether a checksum matched;
 * throws an ImportError for a verdict on the image (refused by its header or by what qemu-img
 * says of it, checksum, too small) and StreamFailed when streaming itself failed.
 */
export async function streamImage(options: StreamImageOptions): Promise<{ verdict: ImageVerdict; checksumVerified: boolean }> {
  const { source, progress } = options;
  const early = headerRefusal(source.head);
  if (early) throw early;
  const nbd = await startNbdkit(source.url, options.scratchDir, options.nbdkit ?? PROGRAMS.nbdkit).catch((err: Error) => {
    throw new StreamFailed(err.message, { cause: err });
  });
  try {
    // qemu-img failing to read over NBD may be the network as much as the file: not a verdict.
    const info = await imageInfo(nbd.uri, options.qemuImg).catch((err: Error) => {
      throw new StreamFailed(`qemu-img info over NBD: ${err.message}`, { cause: err });
    });
    const verdict = judgeImage(info, { file: nbd.uri, head: source.head, capacityBytes: options.capacityBytes });
    progress.detected(verdict.format, verdict.virtualSizeBytes);
    progress.reading(source.totalBytes);
    // Started once the image is judged, so it runs beside the conversion; its failure is only looked at when it matters.
    const hashing = options.sha256 === undefined ? undefined : hashRemote(options);
    hashing?.catch(() => undefined);
    let shown = 0;
    const onBytes = (percent: number) => {
      const now = Math.floor((percent / 100) * source.totalBytes);
      if (now > shown) progress.read(now - shown);
      shown = Math.max(shown, now);
    };
    let checksumVerified = false;
    const commit = async () => {
      if (!hashing) return;
      progress.verifying();
      const sha256 = await hashing;
      if (sha256 !== options.sha256) throw new ImportError({ reason: 'ChecksumMismatch', message: `the SHA-256 of the ${source.totalBytes} bytes served is ${sha256}, not ${options.sha256} given in source.http.sha256` });
      progress.checksumMatched();
      checksumVerified = true;
    };
    await options.write(nbd.uri, verdict, { commit, onProgress: onBytes }).catch((err: unknown) => {
      if (err instanceof ImportError && FINAL.has(err.reason)) throw err;
      throw new StreamFailed(`streaming the image: ${(err as Error).message}`, { cause: err });
    });
    return { verdict, checksumVerified };
  } finally {
    await nbd.stop();
  }
}
