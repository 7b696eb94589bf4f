// The NBD side of the hotplug benchmark: `launcher export` as its own process, the way an
// attachment pod runs it (qemu-storage-daemon behind it), serving the data file over TLS-PSK
// on a local port, and the keys.psk both ends read.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NBD_EXPORT } from '../../api/layout.js';

const ROOT = resolve(import.meta.dirname, '../..');
const LISTEN_TIMEOUT_MS = 60_000;

/** `<dir>/keys.psk` with a fresh `kubevmm:<hex>` key; resolves with the file's path. */
export async function writePskFile(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'keys.psk');
  await writeFile(path, `${NBD_EXPORT.pskUser}:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return path;
}

/** A free TCP port on 127.0.0.1 (released again: the exporter binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  const address = server.address();
  await new Promise<void>((ok) => server.close(() => ok()));
  if (!address || typeof address === 'string') throw new Error('no TCP port from the kernel');
  return address.port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      ok(true);
    });
    socket.once('error', () => ok(false));
  });
}

/** A running `launcher export`. */
export interface NbdExport {
  port: number;
  /** Stops the exporter (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Options of {@link startExport}. */
export interface ExportOptions {
  /** Directory holding disk.img. */
  sourceDir: string;
  /** Directory holding keys.psk. */
  pskDir: string;
}

/**
 * Start `launcher export --mode filesystem` for `<sourceDir>/disk.img` on a free local port;
 * resolves once the port accepts connections.
 */
export async function startExport(options: ExportOptions): Promise<NbdExport> {
  const port = await freePort();
  const size = (await stat(join(options.sourceDir, 'disk.img'))).size;
  const args = ['--import', 'tsx', join(ROOT, 'launcher/main.ts'), 'export'];
  args.push('--source', options.sourceDir, '--mode', 'filesystem', '--size', String(size), '--port', String(port), '--address', '127.0.0.1', '--psk-dir', options.pskDir);
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async (): Promise<void> => {
    if (!gone) child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000).then(() => void child.kill('SIGKILL'))]);
    await exited;
  };
  const deadline = performance.now() + LISTEN_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (gone || performance.now() > deadline) {
      await stop();
      throw new Error(`launcher export did not listen on 127.0.0.1:${port} (${gone ? 'it exited' : 'timed out'}); its stderr:\n${stderr}`);
    }
    await sleep(50);
  }
  return { port, stop };
}
