/**
 * `kubevmm image upload`'s transfer: the file goes as a series of PUTs to the image's upload
 * subresource, each starting where the importer's offset says, each sized to take about
 * {@link TARGET_PUT_SECONDS} (the API server's aggregator proxies a PUT as an ordinary request,
 * cut at its request timeout, 60 s by default). A dropped connection, a 5xx or an importer not
 * there yet is retried with backoff, asking HEAD for the offset first, until nothing has
 * progressed for the timeout; a refusal (403, 404, an image that takes no upload) ends it. So
 * the transfer restarts where it stopped, in this run or in the next run of the same command.
 */
import type { Readable } from 'node:stream';

/** The importer's position: bytes stored, and the file's length once it was told. */
export interface UploadPosition {
  offset: number;
  length?: number;
}

/** One PUT: the file's bytes [offset, end), and the length while the importer has none. */
export interface UploadPut {
  offset: number;
  end: number;
  length?: number;
  body: Readable;
  /** Called with the body bytes sent so far in this PUT. */
  onBytes(sent: number): void;
}

/** The API calls of an upload (upload-http.ts; a fake in tests). */
export interface UploadTransport {
  head(): Promise<UploadPosition>;
  /** Resolves with the importer's offset after the PUT. */
  put(put: UploadPut): Promise<number>;
}

/** An upload call that failed; `offset` is the importer's when the answer carried it. */
export class UploadCallError extends Error {
  override readonly name = 'UploadCallError';
  constructor(
    message: string,
    readonly transient: boolean,
    readonly offset?: number,
  ) {
    super(message);
  }
}

/** Seconds a PUT should take. */
export const TARGET_PUT_SECONDS = 10;
export const MIN_PUT_BYTES = 2 ** 20;
export const MAX_PUT_BYTES = 512 * 2 ** 20;
const FIRST_PUT_BYTES = 8 * 2 ** 20;

/** The next PUT's size from the last one's rate: about TARGET_PUT_SECONDS of sending. */
export function nextPutBytes(last?: { bytes: number; seconds: number }): number {
  if (!last || last.seconds <= 0) return FIRST_PUT_BYTES;
  const wanted = Math.round((last.bytes / last.seconds) * TARGET_PUT_SECONDS);
  return Math.min(MAX_PUT_BYTES, Math.max(MIN_PUT_BYTES, wanted));
}

/** Backoff before retry `attempt` (1-based): 1 s doubling, at most 15 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(1000 * 2 ** (attempt - 1), 15_000);
}

/** Options of {@link uploadFile}. */
export interface UploadOptions {
  transport: UploadTransport;
  size: number;
  /** The file's bytes [start, end). */
  open(start: number, end: number): Readable;
  /** Bytes the importer holds (the progress bar). */
  progress(offset: number): void;
  /** A retry is coming: why, and after how long. */
  retrying?(why: string, delayMs: number): void;
  /** Give up when nothing progressed for this long. */
  stallMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The file's size differs from the one the importer was told: another file, or a changed one. */
export class UploadMismatchError extends Error {
  override readonly name = 'UploadMismatchError';
}

async function position(opts: UploadOptions): Promise<{ offset: number; told: boolean }> {
  const { offset, length } = await opts.transport.head();
  if (length !== undefined && length !== opts.size) {
    throw new UploadMismatchError(`this image's upload was started with a file of ${length} bytes; this file has ${opts.size}: upload that same file again, or delete the image and create it anew`);
  }
  if (offset > opts.size) throw new UploadMismatchError(`the importer holds ${offset} bytes, more than this file's ${opts.size}: it is not the file this upload was started with`);
  return { offset, told: length !== undefined };
}

/** Where an upload stands between PUTs. */
interface LoopState {
  /** The importer's offset; undefined: ask HEAD. */
  offset?: number;
  /** Whether the importer knows the file's length (it is sent until it does). */
  told: boolean;
  last?: { bytes: number; seconds: number };
  /** The most the importer ever held, and when that grew: backoff and the stall count from there. */
  best: number;
  lastProgress: number;
  attempt: number;
}

/** The importer holds `offset`: more than ever before is progress, which resets the backoff. */
function reached(state: LoopState, offset: number, now: () => number): void {
  state.offset = offset;
  if (offset <= state.best) return;
  Object.assign(state, { best: offset, lastProgress: now(), attempt: 0 });
}

/** One PUT from the state's offset; updates the state. Resolves true once the importer holds the whole file. */
async function step(opts: UploadOptions, state: LoopState, now: () => number): Promise<boolean> {
  if (state.offset === undefined) {
    const at = await position(opts);
    state.told = at.told;
    reached(state, at.offset, now);
  }
  const from = state.offset ?? 0;
  opts.progress(from);
  if (from === opts.size) return true;
  const end = Math.min(opts.size, from + nextPutBytes(state.last));
  const started = now();
  const after = await opts.transport.put({ offset: from, end, ...(state.told ? {} : { length: opts.size }), body: opts.open(from, end), onBytes: (sent) => opts.progress(from + sent) });
  state.last = { bytes: end - from, seconds: (now() - started) / 1000 };
  state.told = true;
  reached(state, after, now);
  return false;
}

/** After a failed step: rethrows what is not worth a retry, else waits its backoff. */
async function recover(err: unknown, opts: UploadOptions, state: LoopState, now: () => number): Promise<void> {
  if (!(err instanceof UploadCallError) || !err.transient) throw err;
  // The importer's offset when the answer had it; otherwise HEAD is asked before the next PUT.
  if (err.offset === undefined) state.offset = undefined;
  else reached(state, err.offset, now);
  if (now() - state.lastProgress > opts.stallMs) throw new UploadCallError(`${err.message}; nothing progressed for ${Math.round(opts.stallMs / 1000)} s, giving up (run the same command again to resume)`, false);
  state.attempt += 1;
  const delay = retryDelayMs(state.attempt);
  opts.retrying?.(err.message, delay);
  await (opts.sleep ?? pause)(delay);
}

/** Uploads the whole file; resolves once the importer holds all of it. */
export async function uploadFile(opts: UploadOptions): Promise<void> {
  const now = opts.now ?? Date.now;
  const state: LoopState = { told: false, best: 0, lastProgress: now(), attempt: 0 };
  for (;;) {
    try {
      if (await step(opts, state, now)) return;
    } catch (err) {
      await recover(err, opts, state, now);
    }
  }
}
