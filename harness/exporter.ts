// `launcher export` run as its own process, the way an attachment pod runs it
// (qemu-storage-daemon behind it, TLS-PSK), and the keys.psk file both ends read. Used by
// test/launcher/hotplug-nbd.test.ts and bench/hotplug.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { NBD_EXPORT } from '../api/layout.js';

const ROOT = resolve(import.meta.dirname, '..');

/** `<dir>/keys.psk` with a fresh `kubevmm:<hex>` key; resolves with the file's path. */
export async function writePskFile(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'keys.psk');
  await writeFile(path, `${NBD_EXPORT.pskUser}:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return path;
}

/** A running `launcher export` in a process group of its own, like a pod's container. */
export class Exporter {
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((ok) => child.once('exit', (code) => ok(code)));
  }

  /** Start it and wait for its "serving" line (the daemon listens then). */
  static async start(args: { source: string; size: number; port: number; pskDir: string }): Promise<Exporter> {
    const argv = ['--import', 'tsx', join(ROOT, 'launcher/main.ts'), 'export', '--source', args.source, '--mode', 'filesystem'];
    argv.push('--size', String(args.size), '--port', String(args.port), '--address', '127.0.0.1', '--psk-dir', args.pskDir);
    const exporter = new Exporter(spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], detached: true }));
    const deadline = Date.now() + 60_000;
    while (!/kubevmm export: serving /.test(exporter.stderr)) {
      const code = await Promise.race([exporter.exited, new Promise((ok) => setTimeout(() => ok('waiting'), 100))]);
      if (code !== 'waiting' || Date.now() > deadline) throw new Error(`launcher export did not come up (${code}):\n${exporter.stderr}`);
    }
    return exporter;
  }

  /** SIGKILL to the whole group: the pod is gone, the daemon gets no chance to say goodbye. */
  async kill(): Promise<void> {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await this.exited;
  }

  /** SIGTERM to the launcher export process only: it must pass it on and exit cleanly. */
  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}
