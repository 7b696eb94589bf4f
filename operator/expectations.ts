/**
 * Writes the operator made that its caches have not shown yet (client-go's "expectations").
 * A reconcile in that gap, often the rerun brought by the echo of the operator's own write,
 * would act on the old view and write again: a second launcher pod applied, or a finalizer
 * patch at a resourceVersion the API server has moved past (409). While a write is expected,
 * a plan that would make it again waits for the cache instead.
 */
export class Expectations {
  private readonly written = new Map<string, number>();

  /**
   * @param ttlMs how long a write may take to reach the cache before it is no longer waited
   *   for (a pod deleted at once never shows up; a finalizer someone removes at once neither)
   */
  constructor(
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The write for `key` was just made. */
  expect(key: string): void {
    this.written.set(key, this.now());
  }

  /** The cache shows the write for `key` (or the object is gone): nothing is expected any more. */
  seen(key: string): void {
    this.written.delete(key);
  }

  /** True while a write made for `key` has not reached the cache and is not too old to wait for. */
  pending(key: string): boolean {
    const at = this.written.get(key);
    if (at === undefined) return false;
    if (this.now() - at <= this.ttlMs) return true;
    this.written.delete(key);
    return false;
  }
}
