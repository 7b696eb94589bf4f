// The attachment pod's process: check the volume and the key, create a Filesystem PVC's
// disk.img when it has none, then run qemu-storage-daemon in the foreground until it ends.
// SIGTERM (the pod's deletion) is passed on, so the daemon flushes and closes the export.

import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROGRAMS } from '../programs.js';
import { hasPskKey, PSK_FILE_NAME } from '../qemu/nbd.js';
import { createSparseImage, formatFromMagic, qcow2Reference, readImageHead } from '../runtime/disks.js';
import { ExportError, type ExportOptions } from './options.js';
import { exportImage, planExport } from './plan.js';

/** Options of {@link runExport}. */
export interface RunExportOptions {
  options: ExportOptions;
  /** Default: qemu-storage-daemon on PATH. */
  binary?: string;
  /** One line each, without a prefix. */
  log: (line: string) => void;
  /** Where the daemon's stderr is copied. Default: this process's stderr. */
  stderrSink?: NodeJS.WritableStream;
  /** Pass SIGTERM and SIGINT on to the daemon. Default true. */
  forwardSignals?: boolean;
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ExportError('SourceUnreadable', `--source: cannot look at ${path}: ${(err as Error).message}`);
  }
}

async function prepareFilesystem(options: ExportOptions, image: string, log: RunExportOptions['log']): Promise<void> {
  const dir = await statOrUndefined(options.source);
  if (!dir?.isDirectory()) {
    const what = dir ? 'is not a directory' : 'does not exist';
    throw new ExportError('SourceInvalid', `--source ${options.source} ${what}: with --mode filesystem give the directory where the PVC is mounted (it holds disk.img)`);
  }
  const existing = await statOrUndefined(image);
  if (existing && !existing.isFile()) throw new ExportError('SourceInvalid', `--source: ${image} is not a regular file; remove it or use --mode block`);
  if (existing) return;
  if (options.size === undefined) throw new ExportError('InvalidArgument', `--size is required: ${image} does not exist yet; give the PVC's size, e.g. --size 10Gi`);
  if (options.readOnly) throw new ExportError('SourceInvalid', `--read-only: ${image} does not exist and a read-only export cannot create it`);
  await createSparseImage(image, options.size);
  log(`created ${image} (${options.size} bytes, sparse)`);
}

/** Check the source (creating disk.img when asked to) and read its format. */
async function prepareSource(options: ExportOptions, log: RunExportOptions['log']): Promise<'raw' | 'qcow2'> {
  const image = exportImage(options);
  if (options.mode === 'filesystem') await prepareFilesystem(options, image, log);
  else if (!(await statOrUndefined(image))?.isBlockDevice()) {
    throw new ExportError('SourceInvalid', `--source ${image} is not a block device: with --mode block give the device of a Block PVC, or use --mode filesystem for a directory`);
  }
  let head: Buffer;
  try {
    await access(image, options.readOnly ? constants.R_OK : constants.R_OK | constants.W_OK);
    head = await readImageHead(image);
  } catch (err) {
    const fix = options.readOnly ? 'fix its permissions' : 'fix its permissions or pass --read-only';
    throw new ExportError('SourceUnreadable', `--source: cannot ${options.readOnly ? 'read' : 'read and write'} ${image} (${(err as Error).message}); ${fix}`);
  }
  // The guest writes this image: a qcow2 header it wrote must not make the daemon open keys.psk.
  const reference = qcow2Reference(head);
  if (reference) throw new ExportError('SourceNotSelfContained', `--source ${image} is a qcow2 image that names ${reference}; only self-contained images are served (flatten it with qemu-img convert)`);
  return formatFromMagic(head);
}

async function requirePsk(pskDir: string): Promise<void> {
  const file = join(pskDir, PSK_FILE_NAME);
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (err) {
    throw new ExportError('NbdKeyMissing', `--psk-dir ${pskDir}: cannot read ${PSK_FILE_NAME} (${(err as Error).message}); mount the VM's Secret key keys.psk there`);
  }
  if (!hasPskKey(content)) throw new ExportError('NbdKeyInvalid', `--psk-dir ${pskDir}: ${file} has no "kubevmm:<hex key>" line; fix the keys.psk key of the VM's Secret`);
}

/** The listening socket's descriptor in the daemon: the first one after stdin, stdout, stderr. */
const DAEMON_LISTEN_FD = 3;

/** Node's TCP handle, which is not public API: `fd` and `setNoDelay` are what the runner needs. */
interface TcpHandle {
  fd?: number;
  setNoDelay?: (enable: boolean) => number;
}

/**
 * Listen on address:port with TCP_NODELAY, for the daemon to inherit: Linux copies the option
 * to every accepted socket. QEMU 7.2's NBD server leaves Nagle on, and over TLS a reply's
 * header and data go out as two records, so each read waited for the client's delayed ACK
 * (45 ms per 4 KiB read here, against 0.25 ms with TCP_NODELAY). Undefined when Node's handle
 * does not offer what is needed; the daemon then listens itself.
 */
async function nodelayListener(options: ExportOptions): Promise<{ server: Server; fd: number } | undefined> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const fix = err.code === 'EADDRINUSE' ? 'another process uses it; pick a free --port' : 'check --address and --port';
      reject(new ExportError('ListenFailed', `--port ${options.port}: cannot listen on ${options.address}:${options.port} (${err.message}); ${fix}`));
    });
    server.listen({ host: options.address, port: options.port }, resolve);
  });
  const handle = (server as unknown as { _handle?: TcpHandle })._handle;
  if (typeof handle?.fd !== 'number' || handle.fd < 0 || !handle.setNoDelay || handle.setNoDelay(true) !== 0) {
    server.close();
    return undefined;
  }
  return { server, fd: handle.fd };
}

/**
 * What the daemon says about a client that connected and left before the NBD handshake: a
 * TCP readiness probe, every few seconds for the pod's whole life. Other failures stay.
 */
export function isProbeNoise(line: string): boolean {
  // The kubelet's TCP probe closes cleanly here, or with a reset on a real node.
  return /option negotiation failed: Failed to read (flags|opts magic): (Unexpected end-of-file|Unable to read from socket: Connection reset by peer)/.test(line);
}

/** Copies the daemon's stderr line by line, leaving out readiness-probe noise. */
function stderrFilter(write: (line: string) => void): (text: string) => void {
  let partial = '';
  return (text) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (!isProbeNoise(line)) write(`${line}\n`);
  };
}

/** The last non-empty line of the daemon's stderr, for the one-line failure. */
function lastLine(text: string): string {
  return text.trim().split('\n').at(-1)?.trim() ?? '';
}

/** Signals are exit statuses 128+n, as a shell would report them. */
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Waits for the pid file, then tells that the export listens. */
async function announceWhenReady(pidFile: string | undefined, exited: () => boolean, line: string, log: RunExportOptions['log']): Promise<void> {
  if (!pidFile) return log(line);
  while (!exited()) {
    if (await statOrUndefined(pidFile)) return log(line);
    await sleep(100);
  }
}

interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** The exit code to use, and the one line that says why the daemon ended badly. */
function reportExit(binary: string, result: DaemonExit, stderr: string, log: RunExportOptions['log']): number {
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    log(missing ? `${binary} not found on PATH; install it (Debian: apt-get install qemu-system-common)` : `cannot start ${binary}: ${result.error.message}`);
    return 127;
  }
  if (result.signal) {
    log(`${binary} was killed by ${result.signal}`);
    return 128 + (SIGNAL_NUMBERS[result.signal] ?? 0);
  }
  if (result.code !== 0) log(`${binary} exited with code ${result.code}: ${lastLine(stderr) || 'no message'}`);
  return result.code ?? 1;
}

/**
 * Serve the export until qemu-storage-daemon ends; resolves with the exit code to use
 * (the daemon's, 128+signal when it was killed). Throws {@link ExportError} before the
 * daemon starts when the options do not fit the volume or the key.
 */
export async function runExport(run: RunExportOptions): Promise<number> {
  const { options, log } = run;
  const format = await prepareSource(options, log);
  await requirePsk(options.pskDir);
  const scratch = await mkdtemp(join(tmpdir(), 'kubevmm-export-')).catch(() => undefined);
  const pidFile = scratch ? join(scratch, 'qsd.pid') : undefined;
  const binary = run.binary ?? PROGRAMS.storageDaemon;
  // Handed over and closed here before the event loop polls again, so Node never accepts on it.
  const listener = await nodelayListener(options);
  if (!listener) log('cannot set TCP_NODELAY on the listening socket; qemu-storage-daemon listens itself (small reads will be slow)');
  const argv = planExport({ ...options, format, ...(pidFile ? { pidFile } : {}), ...(listener ? { listenFd: DAEMON_LISTEN_FD } : {}) });
  const child = spawn(binary, argv, { stdio: ['ignore', 'inherit', 'pipe', ...(listener ? [listener.fd] : [])] });
  listener?.server.close();
  let stderr = '';
  const copy = stderrFilter((line) => (run.stderrSink ?? process.stderr).write(line));
  child.stderr?.on('data', (chunk: Buffer) => {
    copy(chunk.toString('utf8'));
    stderr = (stderr + chunk.toString('utf8')).slice(-4096);
  });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  const signals = run.forwardSignals === false ? [] : (['SIGTERM', 'SIGINT'] as const);
  for (const s of signals) process.on(s, forward);
  let ended = false;
  const exit = new Promise<DaemonExit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => (ended = true));
  const mode = options.readOnly ? 'read-only' : 'writable';
  void announceWhenReady(pidFile, () => ended, `serving ${exportImage(options)} (${format}, ${mode}) as nbd export on ${options.address}:${options.port} with TLS-PSK`, log);
  const result = await exit;
  for (const s of signals) process.off(s, forward);
  if (scratch) await rm(scratch, { recursive: true, force: true });
  return reportExit(binary, result, stderr, log);
}
