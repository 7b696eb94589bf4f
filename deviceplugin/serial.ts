/** One job at a time, coalesced: triggers that arrive while it runs cause exactly one more run. */

/** A coalescing runner around an async job. */
export interface SerialRunner {
  /** Runs the job now, or once more after the current run; resolves when that run has finished. */
  trigger(): Promise<void>;
}

/** Wraps `job` so that runs never overlap and bursts of triggers collapse into one extra run. */
export function serialRunner(job: () => Promise<void>, onError: (err: unknown) => void): SerialRunner {
  let running: Promise<void> | undefined;
  let pending: Promise<void> | undefined;
  const runOnce = async (): Promise<void> => {
    try {
      await job();
    } catch (err) {
      onError(err);
    }
  };
  const trigger = (): Promise<void> => {
    if (pending) return pending;
    if (running) {
      pending = running.then(() => {
        pending = undefined;
        return trigger();
      });
      return pending;
    }
    running = runOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
  return { trigger };
}
