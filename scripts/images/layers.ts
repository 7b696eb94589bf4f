// Layers as the builder assembles them: a tar stream (a rootfs from mmdebstrap) or a list of
// entries (files, directories, links from this machine), each cached by a key of its inputs
// under images/layers/<key>/, so an image whose rootfs did not change re-gzips only its small
// layers.

import { lstat, mkdir, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { fileDigest, keyOf, publishDir, writeAtomic } from './cache.js';
import { writeLayer, type LayerBlob } from './oci.js';
import type { TarEntry } from './tar.js';

/** Where layers and memos live; see cache.ts. */
export interface LayerStore {
  root: string;
  log: (line: string) => void;
}

/**
 * The sources that decide a layer's bytes beyond its inputs: the tar writer and the gzip step.
 * (How mmdebstrap is called is part of each rootfs key: plan.ts.)
 */
const FORMAT_SOURCES = ['tar.ts', 'oci.ts'];
let format: Promise<string> | undefined;

/** A key of {@link FORMAT_SOURCES}: changing how layers are made invalidates every cached layer. */
export function formatKey(): Promise<string> {
  const dir = dirname(fileURLToPath(import.meta.url));
  return (format ??= Promise.all(FORMAT_SOURCES.map((f) => readFile(join(dir, f), 'utf8'))).then((texts) => keyOf(texts)));
}

/** A cached layer and the key of its directory under layers/. */
export type CachedLayer = LayerBlob & { cacheKey: string };

/**
 * The cached layer for `key` (and the builder's {@link formatKey}), or the one `produce`
 * streams (gzipped, stored, then returned). Call with the cache lock held.
 */
export async function cachedLayer(store: LayerStore, inputKey: string, describe: string, produce: () => AsyncIterable<Buffer> | Readable): Promise<CachedLayer> {
  const key = keyOf([inputKey, await formatKey()]);
  const dir = join(store.root, 'layers', key);
  const known = await readFile(join(dir, 'layer.json'), 'utf8').then(
    (text) => JSON.parse(text) as Omit<LayerBlob, 'path'>,
    () => undefined,
  );
  if (known) return { ...known, cacheKey: key, path: join(dir, 'sha256', known.digest.slice('sha256:'.length)) };
  store.log(`layer ${describe}: building`);
  const started = Date.now();
  const tmp = join(store.root, 'layers', `.${key}.${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const blob = await writeLayer(produce(), tmp);
    const { path: _path, ...meta } = blob;
    await writeAtomic(join(tmp, 'layer.json'), JSON.stringify(meta, null, 2));
    await publishDir(tmp, dir);
    store.log(`layer ${describe}: ${(blob.size / 1e6).toFixed(1)} MB gzip (${(blob.tarSize / 1e6).toFixed(1)} MB tar) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { ...blob, cacheKey: key, path: join(dir, 'sha256', blob.digest.slice('sha256:'.length)) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The key of an entries layer: the entries and the content digest of every file they read. */
export async function entriesKey(entries: readonly TarEntry[], memoDir: string): Promise<string> {
  const described = await Promise.all(
    entries.map(async (e) => {
      if (e.type === 'file' && 'source' in e) return { ...e, source: await fileDigest(e.source, memoDir) };
      if (e.type === 'file') return { ...e, content: keyOf(e.content.toString('base64')) };
      return e;
    }),
  );
  return keyOf(described);
}

/** Directory entries for every parent of `paths` (root-owned, 0755, as a base image has them), parents first. */
export function parentDirs(paths: readonly string[]): TarEntry[] {
  const dirs = new Set<string>();
  for (const path of paths) {
    const parts = path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort().map((path) => ({ type: 'dir', path, mode: 0o755, uid: 0, gid: 0 }));
}

/** Ownership given to what a directory source holds. */
export interface TreeOwner {
  uid: number;
  gid: number;
}

/**
 * Entries for a file or directory on this machine placed at `dest` (relative): files and
 * directories keep their permission bits, symlinks their targets; `owner` owns them all.
 * Devices, sockets and FIFOs are refused: an image layer built here has no use for them.
 */
export async function treeEntries(source: string, dest: string, owner: TreeOwner): Promise<TarEntry[]> {
  const s = await lstat(source);
  const mode = s.mode & 0o7777;
  if (s.isSymbolicLink()) return [{ type: 'symlink', path: dest, target: await readlink(source), ...owner }];
  if (s.isFile()) return [{ type: 'file', path: dest, source, mode, ...owner }];
  if (!s.isDirectory()) throw new Error(`${source} is neither a file, a directory nor a symlink; an image layer takes only those`);
  const out: TarEntry[] = [{ type: 'dir', path: dest, mode, ...owner }];
  for (const name of (await readdir(source)).sort()) out.push(...(await treeEntries(join(source, name), posix.join(dest, name), owner)));
  return out;
}
