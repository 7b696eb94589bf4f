/**
 * PEM files mounted from a Secret (a certificate, its key, often a CA), read together and read
 * again when they change, so a renewed certificate is used without a restart. The kubelet
 * updates a Secret volume by pointing a symlink at a new directory, so every file changes at
 * once: a watch on the files' directories sees that, and a slow poll covers filesystems where
 * watching does not work. A set that cannot be read, or whose certificate is not its key's
 * (a half-written update), is reported and the set in force stays.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** Which file holds what: a name of your choice for each path. */
export type PemFilePaths<K extends string> = Readonly<Record<K, string>>;
/** The files' text, under the same names. */
export type PemFileContents<K extends string> = Readonly<Record<K, string>>;

/** A file set cannot be used; the message names the file and the fix. */
export class PemFilesError extends Error {
  readonly reason = 'CertificateFilesUnusable';
  override readonly name = 'PemFilesError';
}

/** Options of {@link readPemFiles}. */
export interface PemReadOptions<K extends string> {
  paths: PemFilePaths<K>;
  /** A certificate and the key it must belong to (checked, so a half-updated pair is never used). */
  pair?: { cert: NoInfer<K>; key: NoInfer<K> };
  /** Where the files come from, for messages: e.g. `--tls-cert/--tls-key`. */
  what: string;
}

/** Reads every file; throws PemFilesError naming the file that is missing or the pair that does not match. */
export async function readPemFiles<K extends string>(opts: PemReadOptions<K>): Promise<PemFileContents<K>> {
  // All read at once, but a failure is named in the files' order, so the message does not
  // depend on which read happened to finish first.
  const settled = await Promise.allSettled((Object.entries(opts.paths) as [K, string][]).map(async ([name, path]) => [name, await readFile(path, 'utf8')] as const));
  const paths = Object.values(opts.paths) as string[];
  const entries = settled.map((result, i) => {
    if (result.status === 'fulfilled') return result.value;
    const err = result.reason as NodeJS.ErrnoException;
    throw new PemFilesError(`${opts.what}: ${paths[i]} ${err.code === 'ENOENT' ? 'does not exist' : String(err)}`);
  });
  const contents = Object.fromEntries(entries) as Record<K, string>;
  if (opts.pair) checkPair(contents[opts.pair.cert], contents[opts.pair.key], opts);
  return contents;
}

function checkPair<K extends string>(certPem: string, keyPem: string, opts: PemReadOptions<K>): void {
  let matches: boolean;
  try {
    matches = new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    throw new PemFilesError(`${opts.what}: ${opts.paths[opts.pair!.cert]} or ${opts.paths[opts.pair!.key]} cannot be read as PEM: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!matches) {
    const [cert, key] = [opts.paths[opts.pair!.cert], opts.paths[opts.pair!.key]];
    // Files of one Secret volume share a directory: name it once.
    const where = dirname(cert) === dirname(key) ? `in ${dirname(cert)}, ${basename(key)} is not the key of ${basename(cert)}` : `${key} is not the key of ${cert}`;
    throw new PemFilesError(`${opts.what}: ${where}`);
  }
}

/** Options of {@link watchPemFiles}. */
export interface PemWatchOptions<K extends string> extends PemReadOptions<K> {
  /** The set in force (undefined: none yet; the first good read is a change). */
  current: PemFileContents<K> | undefined;
  onChange: (next: PemFileContents<K>) => void;
  /** A read that failed; the set in force stays. */
  onError?: (err: unknown) => void;
  /** Poll interval besides the watch. Default 60 s. */
  pollMs?: number;
  /** How long to let a burst of file events settle before reading. Default 200 ms. */
  settleMs?: number;
}

function sameContents<K extends string>(a: PemFileContents<K> | undefined, b: PemFileContents<K>): boolean {
  return a !== undefined && (Object.keys(b) as K[]).every((k) => a[k] === b[k]);
}

/** Watches the files; returns a function that stops watching. */
export function watchPemFiles<K extends string>(opts: PemWatchOptions<K>): () => void {
  let current = opts.current;
  let settle: NodeJS.Timeout | undefined;
  let stopped = false;
  const reload = async () => {
    try {
      const next = await readPemFiles(opts);
      if (stopped || sameContents(current, next)) return;
      current = next;
      opts.onChange(next);
    } catch (err) {
      if (!stopped) opts.onError?.(err);
    }
  };
  const soon = () => {
    clearTimeout(settle);
    settle = setTimeout(() => void reload(), opts.settleMs ?? 200);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(Object.values<string>(opts.paths).map((p) => dirname(p)))) {
    try {
      const watcher = watch(dir, soon);
      watcher.on('error', () => undefined); // a directory that goes away: the poll carries on
      watchers.push(watcher);
    } catch {
      // not there (yet), or not watchable: the poll picks changes up
    }
  }
  const poll = setInterval(() => void reload(), opts.pollMs ?? 60_000);
  poll.unref();
  return () => {
    stopped = true;
    clearTimeout(settle);
    clearInterval(poll);
    for (const watcher of watchers) watcher.close();
  };
}

/** Where a server's serving pair is (`--tls-cert`, `--tls-key`), as a checked pair. */
export function servingPairPaths(cert: string, key: string): PemReadOptions<'cert' | 'key'> {
  return { paths: { cert, key }, pair: { cert: 'cert', key: 'key' }, what: '--tls-cert/--tls-key' };
}

/** Options of {@link watchServingPair}. */
export interface ServingPairWatch {
  files: PemReadOptions<'cert' | 'key'>;
  current: PemFileContents<'cert' | 'key'>;
  pollMs: number;
  /** Puts a renewed pair in force (https.Server#setSecureContext). */
  setTls: (pair: PemFileContents<'cert' | 'key'>) => void;
  log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
}

/** Reloads a server's serving pair when the kubelet renews its Secret; logs both outcomes. Returns the stop. */
export function watchServingPair(opts: ServingPairWatch): () => void {
  return watchPemFiles({
    ...opts.files,
    current: opts.current,
    pollMs: opts.pollMs,
    onChange: (next) => {
      opts.setTls(next);
      opts.log.info({ file: opts.files.paths.cert }, 'serving certificate reloaded');
    },
    onError: (err) => opts.log.warn({ err: String(err) }, 'serving certificate files changed but cannot be used yet; serving the previous one'),
  });
}
