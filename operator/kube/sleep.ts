/**
 * A sleep that can be cut short: the informer and the leader election both wait between
 * attempts and must wake at once when they are stopped.
 */

/**
 * Resolves after `ms`, or as soon as the function handed to `onWake` is called. `onWake`
 * receives undefined once the sleep is over, so a stale wake function is not kept.
 */
export function wakeableSleep(ms: number, onWake: (wake: (() => void) | undefined) => void): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      onWake(undefined);
      resolve();
    };
    const timer = setTimeout(done, ms);
    onWake(done);
  });
}
