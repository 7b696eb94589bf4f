// Bare QEMU: the launcher's exact command line replayed without the launcher, as the
// baseline its start-up time is compared with. The argv is read back from the running QEMU
// (/proc/<pid>/cmdline), so the baseline cannot drift from what the launcher really runs.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** How a bare run starts the guest. */
export type BareMode =
  /** `-S` removed: the vCPUs run as soon as QEMU is up. */
  | 'no-S'
  /** `-S` kept, then a minimal QMP client sends `cont` (what the launcher does, minus the launcher). */
  | 'qmp-cont';

/** A bare QEMU process. */
export interface BareQemu {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

/** The argv (binary first) of a running process. */
export async function commandLine(pid: number): Promise<string[]> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  return raw.split('\0').filter((arg, i, all) => arg !== '' || i < all.length - 1);
}

/**
 * The argv for a bare run: `-S` dropped for `no-S`, unchanged for `qmp-cont`. With no launcher
 * to read the serial socket, QEMU's own logfile on that chardev (`serialLog`) records the
 * console, which costs bare QEMU less than a client would.
 */
export function bareArgv(launcherArgv: readonly string[], mode: BareMode, serialLog: string): string[] {
  const [, ...args] = launcherArgv;
  const logged = args.map((a) => (a.startsWith('socket,id=serial0,') ? `${a},logfile=${serialLog}` : a));
  return mode === 'no-S' ? logged.filter((a) => a !== '-S') : logged;
}

/** Spawn QEMU with `args`; stderr is discarded unless it fails (then it is in the error). */
export function spawnBare(binary: string, args: readonly string[]): BareQemu {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  void exited.then(() => {
    if (child.exitCode && child.exitCode !== 0) process.stderr.write(`bare qemu exited ${child.exitCode}: ${stderr}\n`);
  });
  return { child, exited };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function endProcess(child: ChildProcess, exited: Promise<unknown>, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const gone = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!gone) child.kill('SIGKILL');
  await exited;
}

/** Remove what a previous run left in the runtime directory that QEMU would append to. */
export async function resetSerialLog(path: string): Promise<void> {
  await rm(path, { force: true });
}

async function connectRetry(socket: string, deadline: number): Promise<net.Socket> {
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const conn = net.createConnection(socket, () => resolve(conn));
        conn.once('error', reject);
      });
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await sleep(5);
    }
  }
}

/**
 * The least a QMP client must do to start a `-S` guest: negotiate capabilities, send `cont`,
 * and wait for RESUME. Resolves with `performance.now()` when RESUME arrives.
 */
export async function qmpCont(socket: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const conn = await connectRetry(socket, deadline);
  try {
    return await new Promise<number>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new Error(`no RESUME within ${timeoutMs} ms`)), Math.max(0, deadline - performance.now()));
      conn.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          if (line.includes('"QMP"')) conn.write('{"execute":"qmp_capabilities"}\n{"execute":"cont"}\n');
          if (line.includes('"RESUME"')) {
            clearTimeout(timer);
            resolve(performance.now());
          }
        }
      });
      conn.once('error', reject);
    });
  } finally {
    conn.destroy();
  }
}
