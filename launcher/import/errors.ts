// The importer's typed failures. Each carries one of the contract's reasons (IMPORT_FAILURES),
// which the operator copies into the image's Failure condition, and whether it is permanent:
// a transient one (a reset connection, a 5xx) is retried inside the importer, a permanent one
// ends the pod with `Reason: message` in its termination message.

import type { IMPORT_FAILURES } from '../../api/contract/importer.js';

/** A failure reason of the importer contract. */
export type ImportFailure = (typeof IMPORT_FAILURES)[number];

/** Longest message kept: the kubelet caps the termination message at 4096 bytes. */
const MAX_MESSAGE = 1000;

/** An import failure with its contract reason. */
export class ImportError extends Error {
  readonly reason: ImportFailure;
  /** False: worth another try (the downloader retries it); true: the import ends. */
  readonly permanent: boolean;

  constructor(init: { reason: ImportFailure; message: string; permanent?: boolean; cause?: unknown }) {
    super(init.message.length > MAX_MESSAGE ? `${init.message.slice(0, MAX_MESSAGE)}...` : init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ImportError';
    this.reason = init.reason;
    this.permanent = init.permanent ?? true;
  }
}

/** Any thrown value as an ImportError: unknown errors become a permanent ImportFailed. */
export function asImportError(err: unknown): ImportError {
  if (err instanceof ImportError) return err;
  return new ImportError({ reason: 'ImportFailed', message: err instanceof Error ? err.message : String(err), cause: err });
}

/** `Reason: message` on one line, as the termination message of a failed importer. */
export function failureLine(err: ImportError): string {
  return `${err.reason}: ${err.message.replace(/[\r\n]+/g, ' ')}`;
}
