// A deterministic tar writer (POSIX ustar, with pax records for what ustar cannot hold) for
// image layers and OCI archives: every owner, mode and path comes from the caller, every mtime
// is the same, so the same entries always give the same bytes (and the same layer digest)
// whoever runs the build and whatever the files' owners on disk are.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

/** Ownership and permission bits of an entry. */
export interface Owner {
  uid: number;
  gid: number;
  /** Permission bits (07777). */
  mode: number;
}

/** One member of a tar stream; `path` is relative (`app/x.mjs`), directories without a trailing slash. */
export type TarEntry =
  | ({ type: 'dir'; path: string } & Owner)
  | ({ type: 'file'; path: string; source: string } & Owner)
  | ({ type: 'file'; path: string; content: Buffer } & Owner)
  | { type: 'symlink'; path: string; target: string; uid: number; gid: number };

const BLOCK = 512;
/** Entries carry this mtime (2000-01-01, as the guest fixture's files): the date says nothing. */
export const TAR_MTIME = 946684800;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** A pax extended header record: `<len> <key>=<value>\n`, where len counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

interface Header {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  type: string;
  linkname?: string;
}

function headerBlock(h: Header): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(h.name, 0, 100, 'utf8');
  block.write(octal(h.mode, 8), 100, 'ascii');
  block.write(octal(h.uid, 8), 108, 'ascii');
  block.write(octal(h.gid, 8), 116, 'ascii');
  block.write(octal(h.size, 12), 124, 'ascii');
  block.write(octal(TAR_MTIME, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write(h.type, 156, 'ascii');
  if (h.linkname) block.write(h.linkname, 157, 100, 'utf8');
  block.write('ustar\0' + '00', 257, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 'ascii');
  return block;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** Header blocks for an entry: a pax header first when a field does not fit ustar. */
function headers(h: Header): Buffer[] {
  const pax: string[] = [];
  if (Buffer.byteLength(h.name) > 100) pax.push(paxRecord('path', h.name));
  if (h.linkname && Buffer.byteLength(h.linkname) > 100) pax.push(paxRecord('linkpath', h.linkname));
  if (h.size >= 8 ** 11) pax.push(paxRecord('size', String(h.size)));
  const main = headerBlock({ ...h, name: h.name.slice(0, 100), size: h.size >= 8 ** 11 ? 0 : h.size, ...(h.linkname ? { linkname: h.linkname.slice(0, 100) } : {}) });
  if (!pax.length) return [main];
  const body = Buffer.from(pax.join(''));
  return [headerBlock({ name: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, size: body.length, type: 'x' }), body, padding(body.length), main];
}

/** Rejects paths that would escape the archive root or that tar readers treat specially. */
function checkPath(path: string): void {
  if (!path || path.startsWith('/') || path.split('/').some((p) => p === '..' || p === '' || p === '.') || path.includes('\0')) {
    throw new Error(`tar entry path ${JSON.stringify(path)} must be relative, normalized and without ".." (e.g. "app/x.mjs")`);
  }
}

/** The tar stream of `entries`, in the order given, ending with the two zero blocks. */
export async function* tarStream(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    checkPath(entry.path);
    if (entry.type === 'dir') {
      yield* headers({ name: `${entry.path}/`, mode: entry.mode, uid: entry.uid, gid: entry.gid, size: 0, type: '5' });
    } else if (entry.type === 'symlink') {
      yield* headers({ name: entry.path, mode: 0o777, uid: entry.uid, gid: entry.gid, size: 0, type: '2', linkname: entry.target });
    } else if ('content' in entry) {
      yield* headers({ name: entry.path, mode: entry.mode, uid: entry.uid, gid: entry.gid, size: entry.content.length, type: '0' });
      yield entry.content;
      yield padding(entry.content.length);
    } else {
      const size = (await stat(entry.source)).size;
      yield* headers({ name: entry.path, mode: entry.mode, uid: entry.uid, gid: entry.gid, size, type: '0' });
      let written = 0;
      for await (const chunk of createReadStream(entry.source)) {
        written += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (written !== size) throw new Error(`${entry.source} changed size while it was archived (${size} -> ${written} bytes)`);
      yield padding(size);
    }
  }
  yield Buffer.alloc(2 * BLOCK);
}
