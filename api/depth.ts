/**
 * Input shape limits checked before the schema: nesting depth and size. Recursive code
 * (parsers, the renderer's stable JSON, the spec hash) would otherwise die on a hostile
 * object with "Maximum call stack size exceeded" instead of naming the problem. Iterative,
 * so the check itself cannot overflow the stack.
 */
import { formatPath } from './issues.js';

/** No kubevmm field nests this deep; affinity, the deepest, needs about 12 levels. */
export const MAX_NESTING_DEPTH = 32;

/**
 * Pod annotations hold 256 KiB in all, and the launcher pod carries the resolved VM in one:
 * its spec must leave room for the defaults and the other annotations.
 */
export const MAX_SPEC_BYTES = 192 * 1024;

/** The path of the first value nested deeper than `max` levels, or undefined. */
export function tooDeepAt(value: unknown, max = MAX_NESTING_DEPTH): string | undefined {
  const stack: { value: unknown; path: PropertyKey[] }[] = [{ value, path: [] }];
  while (stack.length) {
    const { value: node, path } = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (path.length >= max) return formatPath(path);
    const entries: [PropertyKey, unknown][] = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
    for (const [key, child] of entries) stack.push({ value: child, path: [...path, key] });
  }
  return undefined;
}

/** Bytes of `value` as JSON (after the depth check, so stringify cannot overflow). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}
