// Retry pacing for a VM paused by an I/O error: a full thin PVC or a flapping storage path
// often recovers by itself, so the launcher resumes the guest again and again, ever slower.

/** Pacing of {@link ioRetryDelayMs}. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** The default: 1 s, 2 s, 4 s ... capped at 30 s. */
export const IO_RETRY_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000 };

/** Delay before retry number `attempt` (0-based). */
export function ioRetryDelayMs(attempt: number, policy: BackoffPolicy = IO_RETRY_BACKOFF): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
}

/** Options of {@link IoRetry}. */
export interface IoRetryOptions {
  policy: BackoffPolicy;
  /** Try to resume the VM (it decides whether the pause is still the I/O error's). */
  resume: () => void;
  log?: (line: string) => void;
  now?: () => number;
}

/** One pending resume at a time, each later than the one before. */
export class IoRetry {
  private timer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private lastErrorAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: IoRetryOptions) {}

  /** Called on every pause by an I/O error; a retry already pending is kept. */
  schedule(): void {
    if (this.timer) return;
    const now = (this.options.now ?? Date.now)();
    // A VM that ran for a while since its last I/O error starts the backoff afresh.
    if (now - this.lastErrorAt > 2 * this.options.policy.maxMs) this.attempts = 0;
    this.lastErrorAt = now;
    const delay = ioRetryDelayMs(this.attempts++, this.options.policy);
    this.options.log?.(`vm paused by an I/O error; resuming in ${delay} ms (attempt ${this.attempts})`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.options.resume();
    }, delay);
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
