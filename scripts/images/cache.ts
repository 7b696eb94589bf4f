// The image cache under ${KUBEVMM_CACHE:-$HOME/.cache/kubevmm}/images: content keys, one lock
// for writers, memoised file digests, and directories that appear whole or not at all.
//
//   images/.lock                   held (flock) by whoever writes to the cache
//   images/memo/                   file digests and apt resolutions, keyed by what they depend on
//   images/layers/<key>/           one cached layer blob (gzip) and layer.json
//   images/<name>/<tag>/           one image: image.oci.tar and image.json

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache directory for images. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.KUBEVMM_CACHE || join(homedir(), '.cache/kubevmm'), 'images');
}

/** Canonical JSON: object keys sorted, so equal values always hash alike. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A 12-hex-digit key of `parts` (48 bits: collisions among a cache's few images are not a concern). */
export function keyOf(parts: unknown): string {
  return createHash('sha256').update(canonical(parts)).digest('hex').slice(0, 12);
}

/** Writes `content` to `path` through a temporary file and a rename. */
export async function writeAtomic(path: string, content: string | Buffer): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

/**
 * The sha256 of a file, memoised under `memoDir` by device, inode, size and mtime, so warm runs
 * read no large file (the node binary is 100 MB).
 */
export async function fileDigest(path: string, memoDir: string): Promise<string> {
  const s = await stat(path);
  const memo = join(memoDir, `file-${keyOf([path, s.dev, s.ino, s.size, s.mtimeMs])}`);
  const known = await readFile(memo, 'utf8').catch(() => '');
  if (known) return known;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  await mkdir(memoDir, { recursive: true });
  await writeAtomic(memo, digest);
  return digest;
}

/**
 * Runs `fn` holding an exclusive lock on `path`. The lock is an flock(1) held by a child
 * process on our stdin: if this process dies, however it dies, the pipe closes and the lock goes.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, onWait?: () => void): Promise<T> {
  const holder = spawn('flock', [path, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = setTimeout(() => onWait?.(), 500);
  try {
    await new Promise<void>((resolve, reject) => {
      holder.once('error', (err) => reject(new Error(`cannot take the cache lock ${path} with flock (util-linux): ${err.message}`)));
      holder.stdout.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`flock ${path} exited with ${code} before taking the lock`)));
    });
  } finally {
    clearTimeout(waiting);
  }
  try {
    return await fn();
  } finally {
    holder.stdin.end();
    await new Promise((resolve) => (holder.exitCode !== null ? resolve(null) : holder.once('exit', resolve)));
  }
}

/** Moves a finished directory into place; readers see all of it or none. */
export async function publishDir(tmp: string, final: string): Promise<void> {
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
}

/** Subdirectories of `dir` with their mtimes, newest first. */
async function byAge(dir: string): Promise<{ name: string; mtime: number }[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const dated = await Promise.all(names.filter((n) => !n.startsWith('.')).map(async (name) => ({ name, mtime: (await stat(join(dir, name))).mtimeMs })));
  return dated.sort((a, b) => b.mtime - a.mtime);
}

/** How long an unchanged memo is kept. */
const MEMO_DAYS = 30;

/** Directories of the cache that hold no image. */
const RESERVED = new Set(['memo', 'layers']);

/** Removes the dot-named temporary entries of `dir` (made only under the lock, so with the lock held their builds are dead). */
async function removeLeftovers(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith('.')).map((n) => rm(join(dir, n), { recursive: true, force: true })));
}

/** Marks a build as just used, so {@link prune} counts it among the newest. */
export async function touch(dir: string): Promise<void> {
  const now = new Date();
  await utimes(dir, now, now).catch(() => undefined);
}

/**
 * Keeps the `keep` most recently built or used builds of each image and the layers they use,
 * and memos used in the last 30 days; removes the rest and what killed builds left behind.
 * Called with the lock held.
 */
export async function prune(root: string, keep = 3): Promise<void> {
  const used = new Set<string>();
  await removeLeftovers(join(root, 'layers'));
  for (const name of (await byAge(root)).map((d) => d.name).filter((n) => !RESERVED.has(n))) {
    await removeLeftovers(join(root, name));
    for (const [i, build] of (await byAge(join(root, name))).entries()) {
      const dir = join(root, name, build.name);
      if (i >= keep) {
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      const meta = JSON.parse(await readFile(join(dir, 'image.json'), 'utf8').catch(() => '{}')) as { layerKeys?: string[] };
      for (const key of meta.layerKeys ?? []) used.add(key);
    }
  }
  for (const layer of await byAge(join(root, 'layers'))) {
    if (!used.has(layer.name)) await rm(join(root, 'layers', layer.name), { recursive: true, force: true });
  }
  // Memos are cheap to recompute: those untouched for MEMO_DAYS go (old apt lists, replaced files).
  for (const memo of await byAge(join(root, 'memo'))) {
    if (Date.now() - memo.mtime > MEMO_DAYS * 86_400_000) await rm(join(root, 'memo', memo.name), { force: true });
  }
}

