/**
 * Waiting for a VM to reach a verb's goal: read it, then watch it (no polling), judging every
 * version seen with patches.ts's `progressOf`. When the watch ends (the server closes it after
 * its timeout, the connection drops, or the resourceVersion expired: 410), the VM is read again
 * and a new watch starts from there. A transient failure (the API server restarting) is retried
 * until the deadline; a refusal (RBAC) ends the wait at once. No Kubernetes client here: the
 * VM comes from a {@link VmFeed} (vm-api.ts's VmClient; a test's own in unit tests).
 */
import { ClusterError } from './api-errors.js';
import { progressOf, type Goal, type Progress, type VmView } from '../../api/vm-edits.js';

/** Watch callbacks: each event, and the end of the watch (with the failure, if it failed). */
export interface WatchHandlers {
  event(type: string, object: unknown): void;
  end(err?: unknown): void;
}

/** Where the VM's versions come from. */
export interface VmFeed {
  get(): Promise<VmView & { metadata: { resourceVersion?: string } }>;
  /** Starts a watch from `resourceVersion`; resolves with a function that stops it. */
  watch(resourceVersion: string, handlers: WatchHandlers): Promise<() => void>;
}

/** How a wait ended: the goal reached, failed (the reason in `line`), or the deadline passed. */
export interface WaitOutcome {
  state: 'reached' | 'failed' | 'timedOut';
  /** The last progress line (for a failure: its reason). */
  line: string;
}

/** Options of {@link waitForGoal}. */
export interface WaitOptions {
  feed: VmFeed;
  goal: Goal;
  /** The VM's metadata.generation after the patch: a status older than it is not believed yet. */
  generation?: number;
  timeoutMs: number;
  /** Called with the progress line of every version seen on the way (not the final one). */
  onProgress(line: string): void;
  /** Pause before a retry after a transient failure; default 1 s. */
  retryMs?: number;
}

type Seen = VmView & { metadata: { generation?: number }; status?: VmView['status'] & { observedGeneration?: number } };

/**
 * The progress of `vm` towards `goal`. A status the operator wrote before it saw the patch
 * (observedGeneration older than `generation`) can say Running while a stop is on its way, so
 * it is waited on, whatever it says.
 */
export function judge(vm: Seen, goal: Goal, generation?: number): Progress {
  const progress = progressOf(vm, goal);
  const stale = generation !== undefined && (vm.status?.observedGeneration ?? 0) < generation;
  return stale && progress.state !== 'waiting' ? { state: 'waiting', line: progress.line } : progress;
}

const isTransient = (err: unknown) => err instanceof ClusterError && err.transient;

/** One wait: its state, and the read-then-watch cycle that feeds it. */
class Waiter {
  private last = 'not seen yet';
  /** A transient failure being retried, said with the last line when time runs out. */
  private trouble = '';
  private finished = false;
  private stopWatch: (() => void) | undefined;
  private readonly deadline: NodeJS.Timeout;
  private readonly retryMs: number;

  constructor(
    private readonly opts: WaitOptions,
    private readonly resolve: (outcome: WaitOutcome) => void,
  ) {
    this.retryMs = opts.retryMs ?? 1000;
    this.deadline = setTimeout(() => this.finish({ state: 'timedOut', line: this.trouble ? `${this.last} (${this.trouble})` : this.last }), opts.timeoutMs);
  }

  private finish(outcome: WaitOutcome): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    this.stopWatch?.();
    this.resolve(outcome);
  }

  private see(vm: Seen): void {
    this.trouble = '';
    const progress = judge(vm, this.opts.goal, this.opts.generation);
    this.last = progress.line;
    if (progress.state === 'waiting') this.opts.onProgress(progress.line);
    else this.finish(progress);
  }

  private fail(err: unknown): void {
    this.finish({ state: 'failed', line: err instanceof Error ? err.message : String(err) });
  }

  /** Unreferenced: a wait that has finished must not keep the process alive for its pause. */
  private pause(): Promise<void> {
    return new Promise((r) => setTimeout(r, this.retryMs).unref());
  }

  /** One watch from `rv`; resolves when it has ended (stopped by us on an ERROR event), with its failure if it failed. */
  private watchOnce(rv: string): Promise<unknown> {
    return new Promise<unknown>((ended) => {
      const handlers: WatchHandlers = {
        event: (type, object) => {
          if (this.finished) return;
          const obj = object as Seen & { code?: number; message?: string };
          if (type === 'ADDED' || type === 'MODIFIED') this.see(obj);
          else if (type === 'DELETED') this.fail(new ClusterError(`virtualmachine "${obj.metadata?.name ?? ''}" was deleted while waiting`));
          else if (type === 'ERROR') {
            // 410 Gone (the resourceVersion expired) and the like: this watch is over.
            this.stopWatch?.();
            ended(new ClusterError(`the watch ended: ${String(obj.message ?? obj.code)}`, true, obj.code ?? 0));
          }
        },
        end: (err) => ended(err),
      };
      this.opts.feed.watch(rv, handlers).then((stop) => {
        this.stopWatch = stop;
        if (this.finished) stop();
      }, ended);
    });
  }

  /** Reads the VM, watches it until the watch ends, and again, until finished. */
  async cycle(): Promise<void> {
    while (!this.finished) {
      try {
        const vm = await this.opts.feed.get();
        if (this.finished) return;
        this.see(vm);
        if (this.finished) return;
        const started = Date.now();
        const err = await this.watchOnce(vm.metadata.resourceVersion ?? '');
        if (err && !isTransient(err)) return this.fail(err);
        if (err) this.trouble = `${(err as Error).message}; retrying`;
        // A watch that ends as soon as it starts must not turn into a busy loop of reads.
        if (err || Date.now() - started < this.retryMs) await this.pause();
      } catch (err) {
        if (!isTransient(err)) return this.fail(err);
        this.trouble = `${(err as Error).message}; retrying`;
        await this.pause();
      }
    }
  }
}

/** Watches the VM until the goal, a failure, or the deadline. */
export function waitForGoal(opts: WaitOptions): Promise<WaitOutcome> {
  return new Promise((resolve) => void new Waiter(opts, resolve).cycle());
}
