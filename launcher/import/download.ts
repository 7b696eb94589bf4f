// Downloads an http(s) source into a writable sink, resuming where it stopped: a transient
// failure (reset, stall, 5xx, 429) waits with exponential backoff and asks for the rest with
// Range (If-Range keeps a changed file from being stitched onto the old one); a server that
// cannot resume sends the whole file again and the bytes already passed on are skipped. The
// SHA-256 is of the bytes as served, before any decompression.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ioRetryDelayMs, type BackoffPolicy } from '../runtime/backoff.js';
import { ImportError } from './errors.js';
import { networkFailure, parseContentRange, retryAfterMs, statusFailure } from './http-errors.js';
import type { ImportProgress } from './progress.js';

/** Options of {@link download}. */
export interface DownloadOptions {
  url: string;
  /** Gets the bytes in order, exactly once each; ended after the last. */
  sink: Writable;
  progress: ImportProgress;
  /** Transient failures in a row without a byte received before giving up. Default 10. */
  maxFailuresWithoutProgress?: number;
  /** Hash the bytes (SHA-256) as they pass; off when no checksum is to be checked, to spare a core. Default true. */
  hash?: boolean;
  /** Default 1 s doubling to 60 s. */
  backoff?: BackoffPolicy;
  /** A connection that delivers nothing for this long is dropped and retried. Default 60 s. */
  stallMs?: number;
  /**
   * Mutual TLS towards a source pod (api/contract/claim-source.ts): the CA its certificate must
   * chain to, the name it must carry, and the client certificate to present. Omitted: a public
   * server, verified against the public CAs.
   */
  tls?: DownloadTls;
  log?: (line: string) => void;
}

/** TLS settings of a download from a source pod (PEM text). */
export interface DownloadTls {
  ca: string;
  servername: string;
  cert: string;
  key: string;
}

/** What was downloaded. */
export interface Downloaded {
  bytes: number;
  /** Lower-case hex SHA-256 of the bytes as served (when hashed). */
  sha256?: string;
}

/** The file changed on the server between two attempts: the bytes passed on so far are not part of it. */
export class SourceChanged extends Error {}

const DOWNLOAD_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 60_000 };
const MAX_REDIRECTS = 5;

interface Attempt {
  received: number;
  /** The validator (ETag, else Last-Modified) of the first answer. */
  validator?: string;
}

/** GET `url` following redirects; resolves with the final answer (any status) and where it came from. */
async function get(url: string, headers: http.OutgoingHttpHeaders, stallMs: number, tls: DownloadTls | undefined): Promise<{ res: http.IncomingMessage; url: URL }> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const client = current.protocol === 'https:' ? https : current.protocol === 'http:' ? http : undefined;
    if (!client) throw new ImportError({ reason: 'HttpError', message: `${url} redirects to ${current.href}, which is not http(s)` });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = client.get(current, { headers, agent: false, ...(tls && client === https ? { ...tls, rejectUnauthorized: true } : {}) }, resolve);
      req.setTimeout(stallMs, () => req.destroy(Object.assign(new Error(`no data for ${stallMs / 1000} s (stalled)`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
    });
    const location = res.headers.location;
    // A source pod never redirects: with its TLS settings, a redirect is an answer like any other (refused).
    if (tls || res.statusCode === undefined || res.statusCode < 300 || res.statusCode >= 400 || !location) return { res, url: current };
    res.resume();
    if (hop >= MAX_REDIRECTS) throw new ImportError({ reason: 'HttpError', message: `${url}: more than ${MAX_REDIRECTS} redirects` });
    current = new URL(location, current);
  }
}

/** The answer to a range request for a file's first bytes. */
export interface HeadAnswer {
  status: number;
  /** Where the file is after redirects. */
  url: string;
  /** The file's size from Content-Range (206 only). */
  total?: number;
  /** Up to the bytes asked for. */
  head: Buffer;
}

/** Ask for the first `bytes` bytes of `url` with a range request (one try, no retries). */
export async function fetchHead(url: string, bytes: number, stallMs: number): Promise<HeadAnswer> {
  const { res, url: final } = await get(url, { 'user-agent': 'kubevmm-importer', 'accept-encoding': 'identity', range: `bytes=0-${bytes - 1}` }, stallMs, undefined);
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    got += chunk.length;
    // A server that ignored the range sends the whole file: stop reading after the head.
    if (got >= bytes) break;
  }
  res.destroy();
  const range = res.statusCode === 206 ? parseContentRange(res.headers['content-range']) : undefined;
  return { status: res.statusCode ?? 0, url: final.href, ...(range?.total === undefined || range.start !== 0 ? {} : { total: range.total }), head: Buffer.concat(chunks).subarray(0, bytes) };
}

function requestHeaders(attempt: Attempt): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = { 'user-agent': 'kubevmm-importer', 'accept-encoding': 'identity' };
  if (attempt.received > 0) {
    headers.range = `bytes=${attempt.received}-`;
    if (attempt.validator) headers['if-range'] = attempt.validator;
  }
  return headers;
}

function validatorOf(res: http.IncomingMessage): string | undefined {
  const etag = res.headers.etag;
  return etag && !etag.startsWith('W/') ? etag : res.headers['last-modified'];
}

/**
 * How many leading bytes of this answer's body were already passed on, and the file's total
 * size when the answer says. Throws SourceChanged when a full answer carries another validator.
 */
function bodyStart(res: http.IncomingMessage, attempt: Attempt): { skip: number; total?: number } {
  if (res.statusCode === 206) {
    const range = parseContentRange(res.headers['content-range']);
    if (!range || range.start > attempt.received) throw new ImportError({ reason: 'HttpError', message: `the server answered a range request with ${res.headers['content-range'] ?? 'no content-range'}`, permanent: false });
    return { skip: attempt.received - range.start, ...(range.total === undefined ? {} : { total: range.total }) };
  }
  const length = res.headers['content-length'];
  const total = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
  if (attempt.received > 0 && attempt.validator !== undefined && validatorOf(res) !== attempt.validator) throw new SourceChanged(`the file changed on the server during the download (${attempt.validator} became ${validatorOf(res) ?? 'nothing'})`);
  return { skip: attempt.received, ...(total === undefined ? {} : { total }) };
}

/** Errors of the sink (a decompressor that failed, a full disk) are not the network's: never retried. */
class SinkFailed extends Error {}

async function pass(sink: Writable, chunk: Buffer): Promise<void> {
  if (sink.destroyed) throw new SinkFailed((sink.errored as Error | null)?.message ?? 'the output closed');
  if (!sink.write(chunk)) {
    try {
      await once(sink, 'drain');
    } catch (err) {
      throw new SinkFailed((err as Error).message, { cause: err });
    }
  }
}

interface AttemptContext extends Omit<DownloadOptions, 'hash'> {
  attempt: Attempt;
  hasher: ReturnType<typeof createHash> | undefined;
}

/** One GET; resolves when the whole file went through, throws on any failure. */
async function attemptOnce(ctx: AttemptContext): Promise<void> {
  const { attempt, progress } = ctx;
  const { res } = await get(ctx.url, requestHeaders(attempt), ctx.stallMs ?? 60_000, ctx.tls);
  const failure = statusFailure(res.statusCode ?? 0, ctx.url);
  if (failure) {
    res.resume();
    throw Object.assign(failure, { retryAfter: res.headers['retry-after'] });
  }
  const start = bodyStart(res, attempt);
  const total = start.total;
  let skip = start.skip;
  if (attempt.received === 0) attempt.validator = validatorOf(res);
  if (total !== undefined) progress.total(total);
  for await (const raw of res as AsyncIterable<Buffer>) {
    let chunk = raw;
    if (skip > 0) {
      const dropped = Math.min(skip, chunk.length);
      skip -= dropped;
      chunk = chunk.subarray(dropped);
      if (chunk.length === 0) continue;
    }
    ctx.hasher?.update(chunk);
    attempt.received += chunk.length;
    progress.read(chunk.length);
    await pass(ctx.sink, chunk);
  }
  if (total !== undefined && attempt.received < total) throw Object.assign(new Error(`the connection closed after ${attempt.received} of ${total} bytes (premature close)`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/** Download `url` into the sink; resolves with the size and SHA-256 once every byte was passed on and the sink ended. */
export async function download(options: DownloadOptions): Promise<Downloaded> {
  const attempt: Attempt = { received: 0 };
  const hash = options.hash === false ? undefined : createHash('sha256');
  const limit = options.maxFailuresWithoutProgress ?? 10;
  let failures = 0;
  options.progress.reading();
  for (;;) {
    const before = attempt.received;
    try {
      await attemptOnce({ ...options, attempt, hasher: hash });
      break;
    } catch (err) {
      if (err instanceof SinkFailed || err instanceof SourceChanged) throw err;
      const failure = networkFailure(err, options.url);
      if (failure.permanent) throw failure;
      failures = attempt.received > before ? 1 : failures + 1;
      if (failures >= limit) throw new ImportError({ reason: failure.reason, message: `gave up after ${failures} failed attempts in a row: ${failure.message}` });
      options.progress.retrying(failure);
      const delay = retryAfterMs((err as { retryAfter?: string }).retryAfter, Date.now()) ?? ioRetryDelayMs(failures - 1, options.backoff ?? DOWNLOAD_BACKOFF);
      options.log?.(`download: ${failure.message}; retrying in ${Math.round(delay / 1000)} s from byte ${attempt.received}`);
      await sleep(delay);
    }
  }
  options.sink.end();
  await once(options.sink, 'finish');
  return { bytes: attempt.received, ...(hash ? { sha256: hash.digest('hex') } : {}) };
}
