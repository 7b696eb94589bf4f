// Summaries and plain-text tables for benchmark output: medians and spread, never a single
// sample, because these machines share their cores with other work.

/** Median, min and max of a set of samples. */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
}

/** Summarise samples; NaN everywhere when there are none. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].filter((s) => Number.isFinite(s)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { n, median: NaN, min: NaN, max: NaN };
  const mid = Math.floor(n / 2);
  const median = n % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { n, median, min: sorted[0]!, max: sorted[n - 1]! };
}

/** `median (min–max)` with the given number of decimals; `-` for no samples. */
export function formatSummary(s: Summary, decimals = 0): string {
  if (s.n === 0) return '-';
  const f = (v: number) => v.toFixed(decimals);
  return s.n === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

/** A Markdown table (readable as plain text too), columns padded to their widest cell. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join(' | ')} |`;
  return [line(headers), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** The value of `--name N` (a positive integer) in argv, or the default. */
export function intFlag(argv: readonly string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} wants a positive integer, got ${argv[i + 1] ?? 'nothing'}`);
  return value;
}
