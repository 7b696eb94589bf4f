/**
 * Certificates from a directory (cert-manager's Secret, or any mounted kubernetes.io/tls
 * Secret): tls.crt and tls.key, re-read when they change. The kubelet updates a Secret volume
 * by swapping a symlink, which a directory watch sees; a slow poll covers filesystems where
 * watching does not work.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PemPair } from '../pki/certs.js';
import { CertificateError } from '../pki/certs.js';

/** Reads and checks tls.crt and tls.key from `dir`; throws CertificateError saying what is wrong. */
export async function readCertDir(dir: string): Promise<PemPair> {
  const read = async (file: string) => {
    try {
      return await readFile(join(dir, file), 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : String(err);
      throw new CertificateError(`--webhook-cert-dir: ${join(dir, file)} ${why}; mount a kubernetes.io/tls Secret (e.g. cert-manager's) there, or leave the flag unset to let the operator manage the certificate`);
    }
  };
  const [certPem, keyPem] = await Promise.all([read('tls.crt'), read('tls.key')]);
  try {
    if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) throw new Error('tls.key is not the key of tls.crt');
  } catch (err) {
    throw new CertificateError(`--webhook-cert-dir ${dir}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { certPem, keyPem };
}

export interface CertDirWatchOptions {
  dir: string;
  /** The pair in force; a change is reported only when the files differ from it. */
  current: PemPair;
  onChange: (pair: PemPair) => void;
  /** A pair that could not be read (half-written, mismatched): the old one stays in force. */
  onError?: (err: unknown) => void;
  /** Poll interval besides the watch (default 60 s). */
  pollMs?: number;
}

/** Watches `dir`; returns a function that stops watching. */
export function watchCertDir(opts: CertDirWatchOptions): () => void {
  let current = opts.current;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const reload = async () => {
    try {
      const next = await readCertDir(opts.dir);
      if (stopped || (next.certPem === current.certPem && next.keyPem === current.keyPem)) return;
      current = next;
      opts.onChange(next);
    } catch (err) {
      opts.onError?.(err);
    }
  };
  // A symlink swap fires several events: settle first.
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), 200);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(opts.dir, soon);
    watcher.on('error', (err) => opts.onError?.(err));
  } catch (err) {
    opts.onError?.(err); // the poll still picks changes up
  }
  const poll = setInterval(() => void reload(), opts.pollMs ?? 60_000);
  poll.unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearInterval(poll);
    watcher?.close();
  };
}
