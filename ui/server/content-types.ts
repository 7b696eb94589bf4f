/**
 * The media types of the files the app's bundle holds. A file of another extension is served
 * as `application/octet-stream` (with `nosniff`, a browser never runs or renders it).
 */
import { extname } from 'node:path';

/** Extension (lower case, with the dot) → Content-Type. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.webmanifest': 'application/manifest+json',
};

/** The Content-Type of a file by its name. */
export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** Whether a name ends in the extension of an asset type above (so a missing one is a 404, not the app). */
export function isAssetName(name: string): boolean {
  return Object.hasOwn(CONTENT_TYPES, extname(name).toLowerCase());
}

/**
 * Whether a file name carries a content hash (esbuild's `[name]-[hash]`: eight or more letters
 * and digits before the extension), so its content never changes and it may be cached for a year.
 */
export function isHashedName(name: string): boolean {
  return /-[A-Za-z0-9_]{8,}\.[A-Za-z0-9]+(\.map)?$/.test(name);
}
