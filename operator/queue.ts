/**
 * The operator's work queue: keys, not events (level-triggered reconcile).
 * - a key waiting in the queue is not added twice;
 * - a key is handled by one worker at a time; an add while it is handled runs it once more after;
 * - failures back off per key (base x 2^n, capped); a success forgets the key's failures;
 * - a handler may ask to be called again after a delay (polling a state it cannot watch);
 * - two lanes: `high` keys are taken before `normal` ones. The operator puts a VM whose
 *   launcher pod changed (status work: a pod turned Ready, a guest stopped) in the high lane,
 *   and first reconciles of new VMs in the normal one, so at 5000 new VMs a pod that became
 *   Ready is reported Running within a reconcile or two, not behind every VM still to create.
 */

/** Which lane a key waits in. */
export type Lane = 'high' | 'normal';

/** What a handler returns: nothing, or when to look at the key again. */
export interface HandlerResult {
  requeueAfterMs?: number;
  /** The lane of that later look (default normal). */
  lane?: Lane;
}

function higher(a: Lane | undefined, b: Lane): Lane {
  return a === 'high' || b === 'high' ? 'high' : 'normal';
}

export interface WorkQueueOptions {
  handler: (key: string) => Promise<HandlerResult | void>;
  workers: number;
  /** First retry delay after a failure. */
  baseDelayMs: number;
  /** Retry delays stop growing here. */
  maxDelayMs: number;
  /** Called on each failure, for logs and metrics. */
  onError?: (key: string, error: unknown, retryInMs: number) => void;
  /** Called when a key enters the queue (not for an add of a key that already waits); metrics. */
  onAdd?: (key: string) => void;
  /** Called when a worker takes a key, with how long it waited in the queue; metrics. */
  onStart?: (key: string, waitedMs: number) => void;
}

/** A deduplicating, rate-limited work queue with N workers. */
export class WorkQueue {
  /** Keys in arrival order per lane. A key promoted to high stays behind in `normal` and is skipped there. */
  private readonly lanes: Record<Lane, string[]> = { high: [], normal: [] };
  /** The lane of each waiting key. */
  private readonly queued = new Map<string, Lane>();
  private readonly active = new Set<string>();
  /** Keys added while handled, with the lane to rerun them in. */
  private readonly dirty = new Map<string, Lane>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly addedAt = new Map<string, number>();
  private running = 0;
  private stopped = false;
  /** When a handler last finished, or the queue last left idle (performance.now()). */
  private lastProgressAt = performance.now();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: WorkQueueOptions) {}

  /** Keys waiting to be handled (the queue-depth metric). */
  get depth(): number {
    return this.queued.size;
  }

  /** Enqueues `key` now, in `lane` (a waiting key moves up to high, never down). */
  add(key: string, lane: Lane = 'normal'): void {
    if (this.stopped) return;
    this.clearTimer(key);
    if (this.active.has(key)) {
      this.dirty.set(key, higher(this.dirty.get(key), lane));
      return;
    }
    const waiting = this.queued.get(key);
    if (waiting === 'high' || waiting === lane) return;
    if (this.running === 0 && this.queued.size === 0) this.lastProgressAt = performance.now();
    this.queued.set(key, lane);
    this.lanes[lane].push(key);
    if (waiting) return this.pump(); // promoted: counted and timed from its first add
    this.addedAt.set(key, performance.now());
    this.opts.onAdd?.(key);
    this.pump();
  }

  /** Enqueues `key` in `lane` after `ms`, unless an earlier add or addAfter comes first. */
  addAfter(key: string, ms: number, lane: Lane = 'normal'): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key, lane);
    if (this.timers.has(key) || this.queued.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key, lane);
    }, ms);
    timer.unref();
    this.timers.set(key, timer);
  }

  /**
   * How long the queue has had work without a handler finishing (0 when idle): a queue that
   * stopped draining (a wedged handler, a lost worker) shows here, and /healthz fails on it.
   */
  stalledMs(now = performance.now()): number {
    if (this.running === 0 && this.queued.size === 0) return 0;
    return now - this.lastProgressAt;
  }

  /** Failures in a row for `key` (0 after a success). */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Stops taking work; resolves when the handlers in flight have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.lanes.high.length = 0;
    this.lanes.normal.length = 0;
    this.queued.clear();
    this.addedAt.clear();
    await this.idle();
  }

  /** Resolves when no handler runs and nothing is ready. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queued.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private clearTimer(key: string): void {
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
  }

  /** The next waiting key, high lane first; stale entries of promoted keys are dropped. */
  private next(): string | undefined {
    for (const lane of ['high', 'normal'] as const) {
      const keys = this.lanes[lane];
      while (keys.length) {
        const key = keys.shift() as string;
        if (this.queued.get(key) !== lane) continue;
        this.queued.delete(key);
        return key;
      }
    }
    return undefined;
  }

  private pump(): void {
    while (!this.stopped && this.running < this.opts.workers && this.queued.size > 0) {
      const key = this.next();
      if (key === undefined) break;
      this.opts.onStart?.(key, performance.now() - (this.addedAt.get(key) ?? performance.now()));
      this.addedAt.delete(key);
      this.active.add(key);
      this.running++;
      void this.work(key);
    }
  }

  private async work(key: string): Promise<void> {
    let retryIn: number | undefined;
    let lane: Lane = 'normal';
    try {
      const result = await this.opts.handler(key);
      this.failures.delete(key);
      retryIn = result?.requeueAfterMs;
      if (result?.lane) lane = result.lane;
    } catch (error) {
      const n = this.failuresOf(key);
      this.failures.set(key, n + 1);
      retryIn = Math.min(this.opts.baseDelayMs * 2 ** n, this.opts.maxDelayMs);
      this.opts.onError?.(key, error, retryIn);
    } finally {
      this.active.delete(key);
      this.running--;
      this.lastProgressAt = performance.now();
    }
    const rerun = this.dirty.get(key);
    this.dirty.delete(key);
    if (rerun) this.add(key, rerun);
    else if (retryIn !== undefined) this.addAfter(key, retryIn, lane);
    this.pump();
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.running > 0 || this.queued.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((resolve) => resolve());
  }
}
