/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
 * - every write is a replace carrying the resourceVersion that was read, so two candidates
 *   racing for the same lease cannot both win (the second gets 409 Conflict);
 * - a lease held by someone else counts as expired only when its record has not changed for
 *   leaseDurationSeconds of *our* clock since we first saw that version (no clock-skew issues);
 * - the leader gives up when it could not renew for renewDeadlineMs, which is shorter than the
 *   lease duration, so it stops before anyone else may take over.
 * Once leadership is lost the election is over (onStoppedLeading; the caller should exit).
 */
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { wakeableSleep } from './sleep.js';
import { makeTimedClient } from './timeout.js';

export interface LeaderElectionOptions {
  kc: KubeConfig;
  namespace: string;
  /** Name of the Lease object. */
  name: string;
  /** This replica's identity (the pod name, usually); written as holderIdentity. */
  identity: string;
  /** How long a lease stays valid without renewal (default 15 s; whole seconds on the wire). */
  leaseDurationMs?: number;
  /** The leader gives up when it could not renew for this long (default 10 s). */
  renewDeadlineMs?: number;
  /** Interval between attempts to acquire or renew (default 2 s). */
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  /** Leadership lost (renewal failed past the deadline, the lease was taken) or stop() while leading. */
  onStoppedLeading: () => void;
  /** Failed API calls; the election keeps trying. */
  onError?: (err: unknown) => void;
  log?: (msg: string, fields?: object) => void;
}

export interface LeaderElection {
  /** Ends the election; releases the lease if held (unless `release: false`, e.g. to simulate a crash). */
  stop(options?: { release?: boolean }): Promise<void>;
  isLeader(): boolean;
}

/** The durations do not leave the leader time to step down before others may take over. */
export class LeaderElectionConfigError extends Error {
  override readonly name = 'LeaderElectionConfigError';
}

/** Starts campaigning at once; see the module comment for the rules. */
export function runLeaderElection(opts: LeaderElectionOptions): LeaderElection {
  const elector = new LeaseElector(opts);
  elector.start();
  return elector;
}

interface Timing {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** Defaults and the orderings client-go insists on: retry < renew deadline < lease duration. */
export function electionTiming(opts: Partial<Timing>): Timing {
  const t = {
    leaseDurationMs: opts.leaseDurationMs ?? 15_000,
    renewDeadlineMs: opts.renewDeadlineMs ?? 10_000,
    retryPeriodMs: opts.retryPeriodMs ?? 2_000,
  };
  if (t.leaseDurationMs < 1000 || t.leaseDurationMs % 1000 !== 0) {
    throw new LeaderElectionConfigError(`leaseDurationMs must be whole seconds (got ${t.leaseDurationMs})`);
  }
  if (!(t.renewDeadlineMs < t.leaseDurationMs)) {
    throw new LeaderElectionConfigError('renewDeadlineMs must be shorter than leaseDurationMs');
  }
  if (!(t.retryPeriodMs > 0 && t.retryPeriodMs < t.renewDeadlineMs)) {
    throw new LeaderElectionConfigError('retryPeriodMs must be positive and shorter than renewDeadlineMs');
  }
  return t;
}

function codeOf(err: unknown): number {
  return err instanceof ApiException ? err.code : 0;
}

/** The last version of the lease we saw, and when (our monotonic clock) it first appeared. */
interface Observed {
  resourceVersion: string;
  holder: string;
  durationMs: number;
  at: number;
}

class LeaseElector implements LeaderElection {
  private readonly api: CoordinationV1Api;
  private readonly timing: Timing;
  private leading = false;
  private stopped = false;
  private observed: Observed | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly opts: LeaderElectionOptions) {
    this.timing = electionTiming(opts);
    // No lease call outlives the renew deadline (past it the lease is lost anyway); a shorter
    // deadline would lose leadership to a slow but working API server.
    this.api = makeTimedClient(opts.kc, CoordinationV1Api, this.timing.renewDeadlineMs);
  }

  start(): void {
    this.loop = this.run();
  }

  isLeader(): boolean {
    return this.leading;
  }

  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (this.stopped) return this.loop;
    this.stopped = true;
    this.wake?.();
    await this.loop;
    // Release even when not leading: a write still in flight when stop() came may have won.
    if (options.release ?? true) await this.release();
    if (this.leading) this.stepDown('stopped');
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const won = await this.tryAcquireOrRenew();
      if (this.stopped) break;
      if (won) this.renewed();
      await this.sleep(this.timing.retryPeriodMs);
    }
  }

  private renewed(): void {
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => this.lose('renew deadline passed'), this.timing.renewDeadlineMs);
    if (this.leading) return;
    this.leading = true;
    this.log('started leading');
    this.callback(this.opts.onStartedLeading);
  }

  /** Leadership is gone for good: the election ends here. */
  private lose(why: string): void {
    if (!this.leading) return;
    this.stopped = true;
    this.wake?.();
    this.stepDown(why);
  }

  private stepDown(why: string): void {
    clearTimeout(this.deadline);
    this.leading = false;
    this.log('stopped leading', { why });
    this.callback(this.opts.onStoppedLeading);
  }

  /** One round: true when we hold the lease now. Never throws. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
    } catch (err) {
      if (codeOf(err) === 404) return this.write(() => this.create());
      this.report(err);
      return false;
    }
    const holder = this.observe(lease);
    if (holder !== this.opts.identity && holder !== '' && !this.observedExpired()) {
      if (this.leading) this.lose(`lease taken by ${holder}`);
      return false;
    }
    return this.write(() => this.replace(lease, holder === this.opts.identity));
  }

  /** Runs a create or replace; a 409 means another candidate wrote first: not an error. */
  private async write(call: () => Promise<unknown>): Promise<boolean> {
    if (this.stopped) return false;
    try {
      await call();
      return true;
    } catch (err) {
      if (codeOf(err) !== 409) this.report(err);
      return false;
    }
  }

  private observe(lease: V1Lease): string {
    const holder = lease.spec?.holderIdentity ?? '';
    const resourceVersion = lease.metadata?.resourceVersion ?? '';
    if (this.observed?.resourceVersion !== resourceVersion) {
      const durationMs = (lease.spec?.leaseDurationSeconds ?? this.timing.leaseDurationMs / 1000) * 1000;
      this.observed = { resourceVersion, holder, durationMs, at: performance.now() };
    }
    return holder;
  }

  private observedExpired(): boolean {
    return !!this.observed && performance.now() > this.observed.at + this.observed.durationMs;
  }

  private async create(): Promise<void> {
    const now = new V1MicroTime();
    await this.api.createNamespacedLease({
      namespace: this.opts.namespace,
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: this.spec({ acquireTime: now, renewTime: now, leaseTransitions: 0 }),
      },
    });
  }

  private async replace(lease: V1Lease, renewing: boolean): Promise<void> {
    const now = new V1MicroTime();
    const old = lease.spec ?? {};
    const transitions = old.leaseTransitions ?? 0;
    const spec = renewing
      ? this.spec({ acquireTime: old.acquireTime ?? now, renewTime: now, leaseTransitions: transitions })
      : this.spec({ acquireTime: now, renewTime: now, leaseTransitions: transitions + 1 });
    await this.api.replaceNamespacedLease({
      name: this.opts.name,
      namespace: this.opts.namespace,
      // resourceVersion from the read: the optimistic-concurrency guard. managedFields would be
      // echoed back with client-node's re-serialised timestamps; the server keeps its own.
      body: { ...lease, metadata: { ...lease.metadata, managedFields: undefined }, spec },
    });
  }

  private spec(times: { acquireTime: V1MicroTime; renewTime: V1MicroTime; leaseTransitions: number }): V1Lease['spec'] {
    return { holderIdentity: this.opts.identity, leaseDurationSeconds: this.timing.leaseDurationMs / 1000, ...times };
  }

  /** Hands the lease back (empty holder, as client-go) so a standby takes over at its next retry. */
  private async release(): Promise<void> {
    try {
      const lease = await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
      if (lease.spec?.holderIdentity !== this.opts.identity) return;
      const now = new V1MicroTime();
      const spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now };
      await this.api.replaceNamespacedLease({
        name: this.opts.name,
        namespace: this.opts.namespace,
        body: { ...lease, metadata: { ...lease.metadata, managedFields: undefined }, spec },
      });
      this.log('released the lease');
    } catch (err) {
      if (codeOf(err) !== 404) this.report(err);
    }
  }

  private sleep(ms: number): Promise<void> {
    return wakeableSleep(ms, (wake) => (this.wake = wake));
  }

  /** A throwing callback must not end the loop (nor leave a timer's exception unhandled). */
  private callback(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    this.log('lease request failed', { error: String(err) });
    this.opts.onError?.(err);
  }

  private log(msg: string, fields?: object): void {
    this.opts.log?.(msg, { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity, ...fields });
  }
}
