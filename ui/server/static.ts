/**
 * Serves the app's bundle from one directory: `index.html` for `/` and for client-side routes,
 * files by their extension's type, never a directory listing, never a hidden file, never a file
 * outside the directory (checked on the real path, so a symlink cannot lead out). Hashed assets
 * are cached for a year; the index is revalidated every time, so a new version is picked up.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, join } from 'node:path';
import { contentTypeOf, isHashedName } from './content-types.js';
import { securityHeaders } from './headers.js';
import { INDEX_FILE, isClientRoute, isInside, splitTarget, staticTargetOf } from './paths.js';

/** Where the files are, as a real path (symlinks resolved once, at start). */
export interface StaticOptions {
  root: string;
  tls: boolean;
  /** Origins the app may connect to beyond its own (the OIDC issuer's). */
  connect?: readonly string[];
}

/** The Cache-Control of a served file. */
export function cacheControlOf(file: string): string {
  if (basename(file) === INDEX_FILE || !isHashedName(basename(file))) return 'no-cache';
  return 'public, max-age=31536000, immutable';
}

/** A regular file's real path and size, if `file` is one inside `root`. */
async function regularFile(root: string, file: string): Promise<{ path: string; size: number } | undefined> {
  try {
    const real = await realpath(file);
    if (!isInside(root, real)) return undefined;
    const info = await stat(real);
    return info.isFile() ? { path: real, size: info.size } : undefined;
  } catch {
    return undefined;
  }
}

/** A short plain answer with the app's headers. */
export function plainAnswer(res: ServerResponse, status: number, text: string, tls: boolean): void {
  res.writeHead(status, { ...securityHeaders('app', tls), 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Answers a GET or HEAD for a static file (or the index for a client-side route). */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, opts: StaticOptions): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return plainAnswer(res, 405, 'only GET and HEAD are served here\n', opts.tls);
  }
  const target = staticTargetOf(opts.root, splitTarget(req.url ?? '/').path);
  if ('ok' in target) return plainAnswer(res, 400, `${target.reason}\n`, opts.tls);
  let found: { path: string; size: number } | undefined;
  if (target.kind === 'file') found = await regularFile(opts.root, target.file);
  const routed = target.kind === 'index' || (target.kind === 'file' && !found && isClientRoute(target.relative));
  if (routed) found = await regularFile(opts.root, join(opts.root, INDEX_FILE));
  if (!found) return plainAnswer(res, 404, routed ? `the app is not here: ${INDEX_FILE} is missing\n` : 'not found\n', opts.tls);
  res.writeHead(200, {
    ...securityHeaders('app', opts.tls, opts.connect ?? []),
    'content-type': contentTypeOf(found.path),
    'content-length': found.size,
    'cache-control': cacheControlOf(found.path),
  });
  if (req.method === 'HEAD') return void res.end();
  const stream = createReadStream(found.path);
  stream.once('error', () => res.destroy());
  stream.pipe(res);
}
