// Which download failures are worth another try. Transient: the connection reset or timed out,
// the server said 5xx, 408 or 429 (a mirror under load, a proxy restarting). Permanent: the
// file is not there (404, 410: NotFound) or not for us (401, 403 and the other 4xx: HttpError),
// and TLS failures (a certificate that does not verify stays that way). Pure.

import { ImportError } from './errors.js';

/** Statuses retried with backoff. */
const TRANSIENT_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Whether an HTTP status is a failure, and which. `url` is for the message. */
export function statusFailure(status: number, url: string): ImportError | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 404 || status === 410) return new ImportError({ reason: 'NotFound', message: `${url} answered ${status}: there is no file at that URL; check source.http.url` });
  if (status === 401 || status === 403) {
    return new ImportError({ reason: 'HttpError', message: `${url} answered ${status}: the server refuses to serve it to an anonymous client; the URL must be readable without credentials (a pre-signed URL works)` });
  }
  if (TRANSIENT_STATUSES.has(status) || status >= 500) return new ImportError({ reason: 'HttpError', message: `${url} answered ${status}`, permanent: false });
  return new ImportError({ reason: 'HttpError', message: `${url} answered ${status}, which the importer cannot act on` });
}

/** Node's error codes of a connection that may work next time. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET', 'ECONNCLOSED']);

/** A thrown network error as an ImportError: transient unless it is about TLS trust. */
export function networkFailure(err: unknown, url: string): ImportError {
  if (err instanceof ImportError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const message = err instanceof Error ? err.message : String(err);
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/i.test(code)) {
    return new ImportError({ reason: 'HttpError', message: `${url}: TLS failed (${code}: ${message}); the server's certificate must verify against the public CAs` });
  }
  // A socket that ends early ("aborted", "socket hang up") has no code on every Node version.
  const transient = TRANSIENT_CODES.has(code) || /aborted|hang up|premature|stalled|closed/i.test(message);
  return new ImportError({ reason: transient ? 'HttpError' : 'ImportFailed', message: `${url}: ${code ? `${code} ` : ''}${message}`, permanent: !transient, cause: err });
}

/** Longest wait a server's Retry-After can impose before the next try. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** A Retry-After header (seconds or an HTTP date) in milliseconds from `now`, capped; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const ms = /^\d+$/.test(header.trim()) ? Number(header.trim()) * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) ? Math.max(0, Math.min(MAX_RETRY_AFTER_MS, ms)) : undefined;
}

/** `bytes START-END/TOTAL` of a 206 answer; undefined when it is not that shape. */
export function parseContentRange(header: string | undefined): { start: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), ...(m[3] === '*' ? {} : { total: Number(m[3]) }) };
}
