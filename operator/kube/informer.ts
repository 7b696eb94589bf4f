/**
 * A supervised list+watch cache (design decision 3). client-node's own informers are known
 * to stop silently; this one owns its loop: list -> watch from the list's resourceVersion ->
 * on any ending, re-watch (or relist) with backoff, until stop(). A watchdog restarts a watch
 * that delivers nothing (no event, no bookmark) for `watchdogMs`.
 */
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { wakeableSleep } from './sleep.js';

/** The event types the cache reports; bookmarks and errors stay inside the informer. */
export type InformerEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** Why a watch ended and was restarted. */
export type RestartReason = 'closed' | 'error' | 'gone' | 'stalled';

export interface InformerOptions<T> {
  kc: KubeConfig;
  /** Collection path, e.g. '/apis/kubevmm.io/v1alpha1/virtualmachines' or '/api/v1/pods'. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Lists the collection with the same path and selectors as the watch. */
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  /**
   * No event or bookmark for this long: abort the watch and watch again (default 180 s). The
   * apiserver sends a bookmark on an idle watch every ~60 s, the first one only after up to
   * ~120 s (measured on 1.37): a shorter watchdog would restart every quiet watch.
   */
  watchdogMs?: number;
  /** Delay before retrying after failures in a row: base x 2^(n-1), capped (default 0.5 s..10 s). */
  backoff?: { baseMs: number; maxMs: number };
  /**
   * What the cache keeps of each listed or watched object (default: the object as sent).
   * Runs before onEvent, which sees the same reduced object.
   */
  transform?: (obj: T) => T;
  /** Called for each change of the cache; a throw is reported to onError and ignored. */
  onEvent?: (type: InformerEventType, obj: T) => void;
  /** Called for each failure; the informer keeps going. Receives InformerError (or a handler's throw). */
  onError?: (err: unknown) => void;
  /** Called each time a watch ended and is restarted (the restarts metric). */
  onRestart?: (reason: RestartReason) => void;
  log?: (msg: string, fields?: object) => void;
}

export interface Informer<T> {
  /** Starts the loop; resolves once the first list is in the cache (retries until then). */
  start(): Promise<void>;
  /** Ends the loop and the watch; no event is emitted after it resolves. */
  stop(): Promise<void>;
  get(namespace: string | undefined, name: string): T | undefined;
  list(): T[];
  /** True once the first list has filled the cache. */
  readonly synced: boolean;
  /** Watches restarted so far, for any reason but stop(). */
  readonly restarts: number;
  /**
   * When the loop last made progress (a list finished, a watch event, a watch ended), in ms
   * since the epoch. A live loop moves at least every watchdogMs (the watchdog ends a silent
   * watch); one that has not moved for much longer is wedged, and /healthz says so.
   */
  readonly lastActivityAt: number;
  /** The watchdog period: the longest a healthy loop goes without activity, backoff aside. */
  readonly watchdogMs: number;
}

/** What went wrong, as the `reason` a log line or metric can carry. */
export type InformerErrorReason = 'ListFailed' | 'WatchFailed' | 'WatchError' | 'Gone' | 'Stalled';

/** A list or watch failure; the informer recovers from all of them by itself. */
export class InformerError extends Error {
  override readonly name = 'InformerError';
  constructor(
    readonly reason: InformerErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** start() was still waiting for the first list when stop() was called. */
export class InformerStoppedError extends Error {
  override readonly name = 'InformerStoppedError';
  constructor(path: string) {
    super(`informer for ${path} stopped before its first list`);
  }
}

const DEFAULT_WATCHDOG_MS = 180_000;
/** A 10 s cap (client-go: 30 s) so a watch is back soon after an apiserver restart or upgrade. */
const DEFAULT_BACKOFF = { baseMs: 500, maxMs: 10_000 };

/** Creates an informer; nothing happens until start(). */
export function createInformer<T extends KubernetesObject>(opts: InformerOptions<T>): Informer<T> {
  return new SupervisedInformer(opts);
}

/** How one watch ended. */
interface Ending {
  reason: RestartReason | 'stopped';
  /** A watch that delivered events is healthy: its ending resets the backoff. */
  sawEvents: boolean;
  relist: boolean;
  error?: InformerError;
}

type Deferred = { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void };

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => undefined); // start() may never be awaited; stop() must not leave an unhandled rejection
  return { promise, resolve, reject };
}

function keyOf(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ''}/${name ?? ''}`;
}

/** The `code` of a Status object (watch ERROR event) or the HTTP status on client-node's error. */
function statusCodeOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { code?: unknown; statusCode?: unknown };
  if (typeof v.code === 'number') return v.code;
  return typeof v.statusCode === 'number' ? v.statusCode : undefined;
}

/** client-node's Watch aborts with a DOMException named TimeoutError after its inactivity timeout. */
function isInactivityTimeout(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'TimeoutError';
}

/** The delay after `failures` failures in a row, with up to 20% jitter so replicas spread out. */
export function backoffDelay(failures: number, backoff: { baseMs: number; maxMs: number }): number {
  const exp = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, failures - 1));
  return Math.min(backoff.maxMs, Math.round(exp * (1 + Math.random() * 0.2)));
}

class SupervisedInformer<T extends KubernetesObject> implements Informer<T> {
  private readonly cache = new Map<string, T>();
  private readonly watcher: Watch;
  readonly watchdogMs: number;
  lastActivityAt = Date.now();
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly firstSync = deferred();
  private resourceVersion = '';
  private needsList = true;
  private failures = 0;
  private restartCount = 0;
  private isSynced = false;
  private stopped = false;
  private listing = false;
  private loop: Promise<void> | undefined;
  /** Ends whatever the loop is waiting on (a watch or a backoff pause). */
  private interrupt: (() => void) | undefined;

  constructor(private readonly opts: InformerOptions<T>) {
    this.watchdogMs = opts.watchdogMs ?? DEFAULT_WATCHDOG_MS;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.watcher = new Watch(opts.kc);
    // client-node 1.x's Watch has no inactivity timeout at all (its 30 s signal is overwritten):
    // a dead connection hangs forever, hence the watchdog. 2.x aborts after 30 s without data
    // (a private setting) while idle-watch bookmarks come every 60-120 s: leave silence to the
    // watchdog there too. Harmless on 1.x, where nothing reads the property.
    (this.watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = this.watchdogMs + 1000;
  }

  get synced(): boolean {
    return this.isSynced;
  }

  get restarts(): number {
    return this.restartCount;
  }

  start(): Promise<void> {
    this.loop ??= this.run();
    return this.firstSync.promise;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt?.();
    this.firstSync.reject(new InformerStoppedError(this.opts.path));
    // A list in flight cannot be cancelled (it is the caller's call); the loop drops its result.
    if (!this.listing) await this.loop;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(keyOf(namespace, name));
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  private async run(): Promise<void> {
    this.lastActivityAt = Date.now();
    while (!this.stopped) {
      if (this.needsList && !(await this.relist())) {
        await this.pause();
        continue;
      }
      if (this.stopped) break;
      const ending = await this.watchOnce();
      if (ending.reason === 'stopped') break;
      this.afterWatch(ending);
      await this.pause();
    }
  }

  /** Lists and reconciles the cache with the result; false on failure. */
  private async relist(): Promise<boolean> {
    this.listing = true;
    try {
      const result = await this.opts.list();
      if (this.stopped) return false;
      this.replaceCache(result.items);
      this.resourceVersion = result.metadata?.resourceVersion ?? '';
      this.needsList = false;
      this.markSynced();
      return true;
    } catch (err) {
      this.failures++;
      this.report(new InformerError('ListFailed', `list ${this.opts.path} failed: ${String(err)}`, { cause: err }));
      return false;
    } finally {
      this.listing = false;
      this.lastActivityAt = Date.now();
    }
  }

  private markSynced(): void {
    if (this.isSynced) return;
    this.isSynced = true;
    this.log('informer synced', { objects: this.cache.size });
    this.firstSync.resolve();
  }

  /** Replaces the cache, emitting what changed: after an outage this is how missed deletes show up. */
  private replaceCache(items: T[]): void {
    const fresh = new Map(items.map((item) => {
      const obj = this.keep(item);
      return [keyOf(obj.metadata?.namespace, obj.metadata?.name), obj];
    }));
    for (const [key, old] of this.cache) {
      if (fresh.has(key)) continue;
      this.cache.delete(key);
      this.emit('DELETED', old);
    }
    for (const [key, obj] of fresh) {
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.emit('ADDED', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('MODIFIED', obj);
    }
  }

  /** One watch from the current resourceVersion, until it ends, stalls or stop() is called. */
  private watchOnce(): Promise<Ending> {
    return new Promise((resolve) => {
      let controller: AbortController | undefined;
      let watchdog: NodeJS.Timeout | undefined;
      let settled = false;
      let sawEvents = false;
      const finish = (ending: Omit<Ending, 'sawEvents'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        this.interrupt = undefined;
        controller?.abort();
        resolve({ ...ending, sawEvents });
      };
      const kick = (): void => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => finish(this.stalled()), this.watchdogMs);
      };
      const onEvent = (type: string, obj: unknown): void => {
        if (settled) return;
        this.lastActivityAt = Date.now();
        kick();
        const ending = this.applyWatchEvent(type, obj);
        if (ending) finish(ending);
        else sawEvents = true;
      };
      this.interrupt = () => finish({ reason: 'stopped', relist: false });
      kick();
      this.watcher
        .watch(this.opts.path, this.watchParams(), onEvent, (err: unknown) => finish(this.classifyEnd(err)))
        .then(
          // The controller only arrives once the response started: abort it if we gave up before.
          (c) => (settled ? c.abort() : (controller = c)),
          (err: unknown) => finish(this.classifyEnd(err ?? new Error('watch failed'))),
        );
    });
  }

  private watchParams(): Record<string, string | number | boolean | undefined> {
    return {
      resourceVersion: this.resourceVersion || undefined,
      allowWatchBookmarks: true,
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
      // As client-go: 5-10 minutes, so the watches of many clients do not all end at once.
      timeoutSeconds: Math.round(300 * (1 + Math.random())),
    };
  }

  /** Applies one watch event to the cache; returns an ending for ERROR events. */
  private applyWatchEvent(type: string, obj: unknown): Omit<Ending, 'sawEvents'> | undefined {
    if (type === 'ERROR') return this.watchErrorEvent(obj);
    let object = obj as T;
    const rv = object?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return undefined; // BOOKMARK
    object = this.keep(object);
    const key = keyOf(object.metadata?.namespace, object.metadata?.name);
    if (type === 'DELETED') this.cache.delete(key);
    else this.cache.set(key, object);
    this.emit(type, object);
    return undefined;
  }

  /**
   * A Status in the stream. 410 means our resourceVersion was compacted away; for any other
   * (e.g. ResourceVersionTooLarge after a failover) client-go relists too, and so do we.
   */
  private watchErrorEvent(status: unknown): Omit<Ending, 'sawEvents'> {
    const code = statusCodeOf(status);
    const message = (status as { message?: string } | undefined)?.message ?? 'watch error';
    if (code === 410) return { reason: 'gone', relist: true, error: new InformerError('Gone', message) };
    return { reason: 'error', relist: true, error: new InformerError('WatchError', `${code ?? '?'}: ${message}`) };
  }

  /** Maps the done() of client-node's Watch to an ending: null is a clean close. */
  private classifyEnd(err: unknown): Omit<Ending, 'sawEvents'> {
    if (!err) return { reason: 'closed', relist: false };
    if (isInactivityTimeout(err)) return this.stalled();
    if (statusCodeOf(err) === 410) {
      return { reason: 'gone', relist: true, error: new InformerError('Gone', 'watch answered 410 Gone', { cause: err }) };
    }
    const error = new InformerError('WatchFailed', `watch ${this.opts.path} failed: ${String(err)}`, { cause: err });
    return { reason: 'error', relist: false, error };
  }

  private stalled(): Omit<Ending, 'sawEvents'> {
    const error = new InformerError('Stalled', `watch ${this.opts.path} silent for ${this.watchdogMs} ms`);
    return { reason: 'stalled', relist: false, error };
  }

  private afterWatch(ending: Ending): void {
    this.lastActivityAt = Date.now();
    this.restartCount++;
    // A watch that delivered something was healthy; one that delivered nothing counts as a failure.
    this.failures = ending.sawEvents ? 0 : this.failures + 1;
    if (ending.relist) this.needsList = true;
    if (ending.error) this.report(ending.error);
    this.log('watch ended, restarting', { reason: ending.reason, relist: ending.relist, failures: this.failures });
    this.opts.onRestart?.(ending.reason as RestartReason);
  }

  /** Waits out the backoff after failures; returns at once when the last attempt went well. */
  private pause(): Promise<void> {
    if (this.failures === 0 || this.stopped) return Promise.resolve();
    return wakeableSleep(backoffDelay(this.failures, this.backoff), (wake) => (this.interrupt = wake));
  }

  /** The part of `obj` the cache keeps. */
  private keep(obj: T): T {
    return this.opts.transform ? this.opts.transform(obj) : obj;
  }

  private emit(type: InformerEventType, obj: T): void {
    if (this.stopped) return;
    try {
      this.opts.onEvent?.(type, obj);
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.opts.onError?.(err);
    } catch {
      // an error handler that throws must not stop the informer either
    }
  }

  private log(msg: string, fields?: object): void {
    this.opts.log?.(msg, { path: this.opts.path, ...fields });
  }
}
