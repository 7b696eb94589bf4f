/**
 * Kubernetes resource quantities ("2Gi", "500m", "1e3", 1024) parsed to plain numbers.
 * The grammar is the API server's, so a value that passes here passes there too.
 */

/** Matches the Kubernetes quantity grammar (sign, number, optional suffix or exponent). */
export const QUANTITY_PATTERN = '^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\\d+)?$';

const QUANTITY_RE = new RegExp(QUANTITY_PATTERN);

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** A quantity as users write it: a string such as "2Gi" or a bare number. */
export type Quantity = string | number;

/** True when `value` is a syntactically valid Kubernetes quantity. */
export function isQuantity(value: Quantity): boolean {
  return typeof value === 'number' ? Number.isFinite(value) : QUANTITY_RE.test(value);
}

/**
 * The numeric value of a quantity ("2Gi" -> 2147483648, "500m" -> 0.5).
 * @throws RangeError when the text is not a quantity.
 */
export function parseQuantity(value: Quantity): number {
  if (typeof value === 'number') return value;
  if (!QUANTITY_RE.test(value)) throw new RangeError(`"${value}" is not a quantity such as 512Mi or 2Gi`);
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(.*)$/.exec(value);
  const [, num = '0', suffix = ''] = match ?? [];
  const base = Number(num);
  if (suffix in BINARY) return base * (BINARY[suffix] ?? 1);
  if (suffix in DECIMAL) return base * (DECIMAL[suffix] ?? 1);
  return base * 10 ** Number(suffix.slice(1));
}

/** Bytes in mebibytes, rounded up: the unit the renderer and QEMU's -m use. */
export function toMiB(bytes: number): number {
  return Math.ceil(bytes / 2 ** 20);
}

/** Formats bytes as the largest exact binary unit ("2Gi", "1536Mi", "100Ki" or plain bytes). */
export function formatBytes(bytes: number): string {
  for (const unit of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const size = BINARY[unit] ?? 1;
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(Math.ceil(bytes));
}

/** Formats a CPU amount in the API server's canonical form ("200m", "2"). */
export function formatCpu(cores: number): string {
  const milli = Math.ceil(cores * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}
