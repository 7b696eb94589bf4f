/**
 * Where a request goes: `/k8s/<api path>?<query>` is relayed to the API server as
 * `/<api path>?<query>`, anything else names one of the app's static files. Both mappings are
 * pure and refuse what could leave their tree: `..` and `.` segments (also percent-encoded),
 * backslashes, NUL, empty segments and absolute-form request targets (`http://host/...`).
 */
import { join, sep } from 'node:path';
import { UI_PATHS } from '../../api/contract/ui.js';
import { isAssetName } from './content-types.js';

/** A mapping that failed, with the reason for the 400 answer. */
export interface Refused {
  ok: false;
  reason: string;
}

/** The path and query of the request target, split; the query keeps its leading `?` (or is empty). */
export function splitTarget(target: string): { path: string; query: string } {
  const at = target.indexOf('?');
  return at < 0 ? { path: target, query: '' } : { path: target.slice(0, at), query: target.slice(at) };
}

/**
 * The decoded segments of an origin-form path, or why it is refused. Segments are checked after
 * percent-decoding, so `%2e%2e` and `%2f` cannot smuggle a `..` or an extra level past the check.
 */
export function safeSegments(path: string): string[] | Refused {
  if (!path.startsWith('/')) return { ok: false, reason: 'the request target must be a path (absolute-form URLs are not relayed)' };
  const raw = path.slice(1).split('/');
  const segments: string[] = [];
  for (const [i, part] of raw.entries()) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      return { ok: false, reason: 'the path has a malformed percent-encoding' };
    }
    if (decoded === '' && i === raw.length - 1) continue; // one trailing slash, or the root
    if (decoded === '' || decoded === '.' || decoded === '..') return { ok: false, reason: 'the path has an empty, "." or ".." segment' };
    if (/[\\/\0]/.test(decoded)) return { ok: false, reason: 'the path has an encoded slash, a backslash or NUL' };
    segments.push(decoded);
  }
  return segments;
}

/**
 * The API server path for a `/k8s/...` request target (the query kept as sent), or why it is
 * refused. Undefined when the target is not under {@link UI_PATHS.api}.
 */
export function apiPathOf(target: string): { ok: true; path: string } | Refused | undefined {
  const { path, query } = splitTarget(target);
  const prefix = `${UI_PATHS.api}/`;
  if (path !== UI_PATHS.api && !path.startsWith(prefix)) return undefined;
  const rest = path.slice(UI_PATHS.api.length);
  if (rest === '' || rest === '/') return { ok: false, reason: `give an API path after ${prefix}, e.g. ${prefix}api/v1/namespaces` };
  const checked = safeSegments(rest);
  if (!Array.isArray(checked)) return checked;
  return { ok: true, path: `${rest}${query}` };
}

/** What a static request resolved to: a file under the root, or the app's index for a client-side route. */
export type StaticTarget = { kind: 'file'; file: string; relative: string } | { kind: 'index' } | { kind: 'not-found' } | Refused;

/** The app's entry page, served for `/` and for paths without a file extension (client-side routes). */
export const INDEX_FILE = 'index.html';

/**
 * The file under `root` a URL path names. Hidden names (a segment starting with `.`) are never
 * served. The caller still checks the real path (symlinks) and that it is a regular file.
 */
export function staticTargetOf(root: string, urlPath: string): StaticTarget {
  const segments = safeSegments(urlPath);
  if (!Array.isArray(segments)) return segments;
  if (segments.length === 0) return { kind: 'index' };
  if (segments.some((s) => s.startsWith('.'))) return { kind: 'not-found' };
  const relative = segments.join('/');
  return { kind: 'file', file: join(root, ...segments), relative };
}

/** Whether `file` (a real path) is inside `root` (a real path). */
export function isInside(root: string, file: string): boolean {
  const base = root.endsWith(sep) ? root : `${root}${sep}`;
  return file.startsWith(base);
}

/**
 * Whether a path that names no file falls back to the app's index: a client-side route
 * (`/vms/default/web.1`) does, a missing asset (`/assets/x.js`, by its extension) is a 404,
 * never the index: a wrong script would be parsed as HTML.
 */
export function isClientRoute(relative: string): boolean {
  return !isAssetName(relative.split('/').pop() ?? '');
}
