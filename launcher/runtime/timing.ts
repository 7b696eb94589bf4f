// Deadlines and pacing of the supervisor in one place: the defaults suit production, tests
// shorten them.

import { IO_RETRY_BACKOFF, type BackoffPolicy } from './backoff.js';

/** Deadlines and pacing; the defaults suit production, tests shorten some. */
export interface SupervisorTiming {
  /** How long QEMU gets to open its QMP socket. */
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  detachTimeoutMs: number;
  /** After `quit`, how long before SIGTERM; after SIGTERM, how long before SIGKILL. */
  quitWaitMs: number;
  /** After the guest powered off, how long QEMU gets to exit by itself before `quit`. */
  shutdownExitWaitMs: number;
  ioRetry: BackoffPolicy;
  agentPollMs: number;
}

/** Production defaults. */
export const DEFAULT_TIMING: SupervisorTiming = {
  connectTimeoutMs: 30_000,
  commandTimeoutMs: 30_000,
  detachTimeoutMs: 30_000,
  quitWaitMs: 5_000,
  shutdownExitWaitMs: 5_000,
  ioRetry: IO_RETRY_BACKOFF,
  agentPollMs: 5_000,
};


/** The longest delay setTimeout honours; Node fires a longer one at once (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * setTimeout for any delay: beyond MAX_TIMER_MS it waits in steps, so a long grace period
 * never ends at once (the API bounds it to a week; this keeps the launcher right regardless).
 * Returns the function that cancels it. `fn` always runs asynchronously.
 */
export function longTimeout(fn: () => void, ms: number): () => void {
  const end = Date.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const left = end - Date.now();
    timer = setTimeout(left > MAX_TIMER_MS ? arm : fn, Math.max(0, Math.min(left, MAX_TIMER_MS)));
  };
  arm();
  return () => clearTimeout(timer);
}
