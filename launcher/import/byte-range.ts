// The Range header of a GET to a source pod (RFC 9110 section 14), read strictly: one range of
// bytes at most, in any of its three forms (`a-b`, `a-`, `-n`). A header the server cannot
// serve exactly is refused rather than guessed at: several ranges (the importer never asks for
// them, and overlapping ones would make the server send the same bytes many times), negative
// or reversed bounds, numbers too long, or a start at or past the end. Pure.

/** What to send for one GET. */
export type RangeAnswer =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable'; message: string }
  | { kind: 'invalid'; message: string };

/** Longest decimal bound taken (beyond 2^53 a number is no byte offset). */
const MAX_DIGITS = 15;

/** The answer to `header` (undefined: none) for a resource of `size` bytes. */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'full' };
  const m = /^bytes=(.*)$/i.exec(header.trim());
  if (!m) return { kind: 'invalid', message: `Range ${JSON.stringify(header.slice(0, 80))} is not in bytes=START-END form` };
  const spec = m[1]!.trim();
  if (spec.includes(',')) return { kind: 'unsatisfiable', message: 'only one byte range per request is served' };
  const parts = /^(\d*)-(\d*)$/.exec(spec);
  if (!parts || (parts[1] === '' && parts[2] === '') || parts[1]!.length > MAX_DIGITS || parts[2]!.length > MAX_DIGITS) {
    return { kind: 'invalid', message: `Range bytes=${spec.slice(0, 80)} is not START-END, START- or -SUFFIX with non-negative numbers` };
  }
  if (parts[1] === '') return suffix(Number(parts[2]), size);
  const start = Number(parts[1]);
  if (parts[2] !== '' && Number(parts[2]) < start) return { kind: 'invalid', message: `Range bytes=${spec} ends before it starts` };
  const end = parts[2] === '' ? size - 1 : Number(parts[2]);
  if (start >= size) return { kind: 'unsatisfiable', message: `Range bytes=${spec} starts at or past the end (${size} bytes)` };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

function suffix(length: number, size: number): RangeAnswer {
  if (length === 0 || size === 0) return { kind: 'unsatisfiable', message: `a suffix of ${length} bytes of ${size} bytes is empty` };
  return { kind: 'partial', start: Math.max(0, size - length), end: size - 1 };
}
