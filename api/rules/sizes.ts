/** Quantities that become bytes in a pod or on QEMU's command line: finite, whole and bounded. */
import { formatBytes, isQuantity, parseQuantity, type Quantity } from '../quantity.js';
import type { Finding } from './context.js';

/** The bounds of one byte quantity. */
export interface ByteBounds {
  min: number;
  max: number;
  /** A valid value, for messages ("2Gi"). */
  example: string;
}

/**
 * Findings for a byte quantity at `path`: not a quantity, not finite ('9e999'), not a whole
 * number of bytes ('0.5Ki' is fine, '1m' is not), below `min` or above `max`.
 */
export function byteQuantity(value: Quantity, path: string, bounds: ByteBounds): Finding[] {
  if (!isQuantity(value)) return [{ path, message: `must be a quantity such as ${bounds.example}` }];
  const bytes = parseQuantity(value);
  const got = `got ${String(value)}`;
  if (!Number.isFinite(bytes) || bytes > bounds.max) return [{ path, message: `must be at most ${formatBytes(bounds.max)}; ${got}` }];
  if (bytes < bounds.min) return [{ path, message: `must be at least ${formatBytes(bounds.min)}; ${got}` }];
  if (!Number.isInteger(bytes)) return [{ path, message: `must be a whole number of bytes, such as ${bounds.example}; ${got}` }];
  return [];
}
