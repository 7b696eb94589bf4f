// The QEMU child process: spawn, keep the tail of its stderr (QEMU explains most start-up
// and crash failures there, and nowhere else), and report how it ended.

import { spawn, type ChildProcess } from 'node:child_process';
import { PROGRAMS } from '../programs.js';

/** How QEMU ended. */
export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Keeps the last `limit` bytes written to it; older output is dropped. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
    if (this.size > this.limit) {
      const only = this.chunks[0]!;
      this.chunks = [only.subarray(only.length - this.limit)];
      this.size = this.limit;
    }
  }

  /** The kept output as text. */
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Options of {@link QemuProcess.spawn}. */
export interface SpawnQemuOptions {
  binary?: string;
  argv: readonly string[];
  /** Bytes of stderr kept for failure reasons. Default 16 KiB. */
  stderrLimit?: number;
  /** Also copy QEMU's stderr here (e.g. the launcher's own stderr, so `kubectl logs` shows it). */
  stderrSink?: NodeJS.WritableStream;
  /**
   * End QEMU when this process dies, even by SIGKILL (`kubevmm play`): QEMU runs under
   * `setpriv --pdeathsig TERM`, so the kernel sends it SIGTERM (QEMU's clean quit) when its
   * parent goes. In a pod the container's end does this already.
   */
  dieWithParent?: boolean;
}

/** util-linux's setpriv sets the parent-death signal, then execs QEMU under the same pid. */
export const SETPRIV = 'setpriv';

/** The command that runs QEMU: itself, or through setpriv when it must die with its parent. */
export function qemuCommand(options: Pick<SpawnQemuOptions, 'binary' | 'argv' | 'dieWithParent'>): [string, string[]] {
  const binary = options.binary ?? PROGRAMS.qemu;
  if (!options.dieWithParent) return [binary, [...options.argv]];
  return [SETPRIV, ['--pdeathsig', 'TERM', '--', binary, ...options.argv]];
}

/** What the supervisor uses of a QEMU process (tests substitute a fake). */
export type QemuProcessLike = Pick<QemuProcess, 'exited' | 'exitSignal' | 'exit' | 'pid' | 'kill' | 'waitForExit' | 'stderrTail'>;

/** A running QEMU. */
export class QemuProcess {
  /** Resolves once when QEMU has exited (never rejects; a spawn failure is exit code 127). */
  readonly exited: Promise<QemuExit>;
  /** Aborted when QEMU exits, with a reason naming the exit; for waits that must not outlive it. */
  readonly exitSignal: AbortSignal;
  private exitValue: QemuExit | undefined;
  private readonly stderr: TailBuffer;

  private constructor(
    private readonly child: ChildProcess,
    options: SpawnQemuOptions,
  ) {
    this.stderr = new TailBuffer(options.stderrLimit ?? 16 * 1024);
    const abort = new AbortController();
    this.exitSignal = abort.signal;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr.push(chunk);
      options.stderrSink?.write(chunk);
    });
    child.stdout?.resume(); // QEMU prints little there; never let the pipe fill up
    this.exited = new Promise((resolve) => {
      const finish = (exit: QemuExit): void => {
        if (this.exitValue) return;
        this.exitValue = exit;
        abort.abort(new Error(`qemu exited (${describeExit(exit)})`));
        resolve(exit);
      };
      // 'close', not 'exit': by then stderr is drained, so the failure reason is complete.
      child.once('close', (code, signal) => finish({ code, signal }));
      child.once('error', (err) => {
        const via = options.dieWithParent ? ` through ${SETPRIV} (util-linux; it ends QEMU when kubevmm dies)` : '';
        this.stderr.push(Buffer.from(`cannot run ${options.binary ?? 'qemu'}${via}: ${err.message}\n`));
        finish({ code: 127, signal: null });
      });
    });
  }

  /** Start QEMU with `argv`. */
  static spawn(options: SpawnQemuOptions): QemuProcess {
    // A process group of its own: a Ctrl-C on the terminal (kubevmm play) signals the whole
    // foreground group, and QEMU would quit on it at once instead of the guest shutting
    // down. Every stop goes through the launcher.
    const [command, args] = qemuCommand(options);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    return new QemuProcess(child, options);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The exit, once it happened. */
  get exit(): QemuExit | undefined {
    return this.exitValue;
  }

  /** The tail of QEMU's stderr. */
  stderrTail(): string {
    return this.stderr.text();
  }

  /** Send a signal; false when QEMU is already gone. */
  kill(signal: NodeJS.Signals): boolean {
    if (this.exitValue) return false;
    return this.child.kill(signal);
  }

  /** Wait up to `ms` for the exit; undefined when QEMU is still running then. */
  async waitForExit(ms: number): Promise<QemuExit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** "code 1" / "signal SIGKILL". */
export function describeExit(exit: QemuExit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code ?? 'unknown'}`;
}
