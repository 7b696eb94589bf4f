/** The smallest merge patch that turns one status (a VM's, an image's) into another; none when equal. Pure. */
import { stableJson } from '../render/hash.js';

/** A merge patch for `status`, or undefined when nothing changed (no write is made). */
export function statusPatch<T extends object>(before: T | undefined, after: T): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  const old = (before ?? {}) as Record<string, unknown>;
  const next = after as Record<string, unknown>;
  for (const key of new Set([...Object.keys(old), ...Object.keys(next)])) {
    if (next[key] === undefined) {
      if (old[key] !== undefined) patch[key] = null;
    } else if (stableJson(old[key]) !== stableJson(next[key])) {
      patch[key] = next[key];
    }
  }
  return Object.keys(patch).length ? patch : undefined;
}
