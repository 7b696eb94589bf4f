/**
 * Launcher pods the operator created that its pod cache has not shown yet (client-go's
 * "expectations"). A reconcile in that gap, often the rerun brought by the echo of the VM's
 * own finalizer patch, would see no pod and apply it a second time: one more write per VM.
 * While a pod is expected, a plan that would create it waits for the cache instead.
 */
export class PodExpectations {
  private readonly created = new Map<string, number>();

  /**
   * @param ttlMs how long a created pod may take to reach the cache before it is no longer
   *   waited for (a pod deleted at once never shows up)
   */
  constructor(
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The pod of `key` was just created. */
  expectPod(key: string): void {
    this.created.set(key, this.now());
  }

  /** The cache shows the pod of `key` (or the VM is gone): nothing is expected any more. */
  seen(key: string): void {
    this.created.delete(key);
  }

  /** True while a pod created for `key` has not reached the cache and is not too old to wait for. */
  pending(key: string): boolean {
    const at = this.created.get(key);
    if (at === undefined) return false;
    if (this.now() - at <= this.ttlMs) return true;
    this.created.delete(key);
    return false;
  }
}
