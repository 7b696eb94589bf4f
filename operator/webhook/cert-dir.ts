/**
 * Certificates from a directory (cert-manager's Secret, or any mounted kubernetes.io/tls
 * Secret): tls.crt and tls.key, read and re-read on change by api/pem-files.ts (a directory
 * watch for the kubelet's symlink swap, a slow poll where watching does not work).
 */
import { join } from 'node:path';
import { PemFilesError, readPemFiles, watchPemFiles, type PemReadOptions } from '../../api/pem-files.js';
import type { PemPair } from '../pki/certs.js';
import { CertificateError } from '../pki/certs.js';

function files(dir: string): PemReadOptions<'certPem' | 'keyPem'> {
  return { paths: { certPem: join(dir, 'tls.crt'), keyPem: join(dir, 'tls.key') }, pair: { cert: 'certPem', key: 'keyPem' }, what: '--webhook-cert-dir' };
}

/** Reads and checks tls.crt and tls.key from `dir`; throws CertificateError saying what is wrong. */
export async function readCertDir(dir: string): Promise<PemPair> {
  try {
    return await readPemFiles(files(dir));
  } catch (err) {
    if (!(err instanceof PemFilesError)) throw err;
    const hint = / does not exist$/.test(err.message) ? "; mount a kubernetes.io/tls Secret (e.g. cert-manager's) there, or leave the flag unset to let the operator manage the certificate" : '';
    throw new CertificateError(`${err.message}${hint}`);
  }
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
  return watchPemFiles({ ...files(opts.dir), current: opts.current, onChange: opts.onChange, ...(opts.onError ? { onError: opts.onError } : {}), ...(opts.pollMs ? { pollMs: opts.pollMs } : {}) });
}
