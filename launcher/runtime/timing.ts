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

