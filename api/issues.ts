/**
 * Validation issues: every problem names the object, the JSON path and what would be valid.
 * Schema (zod) issues are translated here so the CLI, the webhook and the tests read one format.
 */
import type { z } from 'zod';

/** One problem with one field of one object. */
export interface ValidationIssue {
  /** "VirtualMachine team-a/web-1" */
  object: string;
  /** JSON path such as "spec.disks[1].name" */
  path: string;
  /** What is wrong and what would be valid. */
  message: string;
}

/** A path segment list rendered as "spec.disks[1].name". */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : i === 0 ? String(seg) : `.${String(seg)}`))
    .join('');
}

/** "VirtualMachine team-a/web-1: spec.memory.guest: ..." */
export function formatIssue(issue: ValidationIssue): string {
  return `${issue.object}: ${issue.path || '(root)'}: ${issue.message}`;
}

/** Levenshtein distance, for "did you mean" hints on misspelt fields. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

/** The closest known name to a misspelt one, when it is close enough to be a typo. */
export function suggest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Walks a zod schema along a data path to find the object keys allowed there. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: unknown = schema;
  for (const seg of [...path, null]) {
    node = unwrap(node);
    if (seg === null) break;
    const def = defOf(node);
    if (def?.type === 'object') node = (def.shape as Record<string, unknown>)[String(seg)];
    else if (def?.type === 'array') node = def.element;
    else if (def?.type === 'record') node = def.valueType;
    else return [];
  }
  const def = defOf(node);
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

type Def = { type: string; [k: string]: unknown };
function defOf(node: unknown): Def | undefined {
  return (node as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}
function unwrap(node: unknown): unknown {
  let def = defOf(node);
  while (def && (def.type === 'optional' || def.type === 'default' || def.type === 'nullable')) {
    node = def.innerType;
    def = defOf(node);
  }
  return node;
}

/** One zod issue as the user-facing sentence(s) for it. */
function describe(issue: z.core.$ZodIssue, schema: z.ZodType): { path: PropertyKey[]; message: string }[] {
  const path = issue.path as PropertyKey[];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const hint = suggest(key, knownKeysAt(schema, path));
        const fix = hint ? `did you mean "${hint}"?` : `remove it; known fields: ${knownKeysAt(schema, path).join(', ')}`;
        return { path: [...path, key], message: `unknown field "${key}"; ${fix}` };
      });
    case 'invalid_value':
      return [{ path, message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}` }];
    case 'invalid_type':
      return [{ path, message: issue.input === undefined ? 'is required' : `must be ${article(issue.expected)}` }];
    case 'too_small':
      return [{ path, message: `must be at least ${String(issue.minimum)}${unitOf(issue.origin)}` }];
    case 'too_big':
      return [{ path, message: issue.message.startsWith('Too') ? `must be at most ${String(issue.maximum)}${unitOf(issue.origin)}` : issue.message }];
    case 'invalid_format':
      // A schema's own message says it best; zod's default ("Invalid string: ...") only names the pattern.
      return [{ path, message: issue.message && !issue.message.startsWith('Invalid') ? issue.message : formatHint(issue.format, issue.pattern) }];
    case 'invalid_union':
      return [{ path, message: 'must be a quantity such as 512Mi, 2Gi or a number of bytes' }];
    default:
      return [{ path, message: issue.message }];
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
function unitOf(origin: string): string {
  if (origin === 'string') return ' characters';
  if (origin === 'array') return ' items';
  return '';
}
function formatHint(format: string, pattern?: string): string {
  if (pattern?.includes('[-a-z0-9]')) {
    return 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit';
  }
  if (pattern?.includes('[0-9a-fA-F]{2}')) return 'must be a MAC address such as 52:54:00:12:34:56, or empty';
  if (pattern?.includes('KMGTPE')) return 'must be a quantity such as 512Mi or 2Gi';
  return `must match ${format}${pattern ? ` ${pattern}` : ''}`;
}

/** Translates a failed zod parse into ValidationIssues for `object`. */
export function fromZod(error: z.ZodError, schema: z.ZodType, object: string): ValidationIssue[] {
  return error.issues.flatMap((issue) =>
    describe(issue, schema).map(({ path, message }) => ({ object, path: formatPath(path), message })),
  );
}
