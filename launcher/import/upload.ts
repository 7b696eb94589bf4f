// Receiving an upload (`HEAD/PUT /upload`, relayed by the subresource server from
// `kubevmm image upload`): bytes go to a file in scratch at the offset the client says, which
// must be where the file ends now, so a cut transfer resumes from `HEAD`'s upload-offset
// without a byte twice or missing. The total (upload-length) is fixed by the first PUT and
// kept beside the file, so a restarted container resumes too. One PUT at a time.

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { UPLOAD_LENGTH_HEADER, UPLOAD_OFFSET_HEADER } from '../../api/contract/importer.js';
import type { ImportProgress } from './progress.js';

/** Largest upload taken (a disk image, compressed or not, of 64 TiB). */
export const MAX_UPLOAD_BYTES = 64 * 1024 ** 4;

/** An answer to an upload request. */
export interface UploadAnswer {
  status: number;
  headers: Record<string, string>;
  body?: { reason: string; message: string; offset?: number };
}

const count = (value: string | string[] | undefined): number | undefined => {
  const text = Array.isArray(value) ? value[0] : value;
  return text !== undefined && /^\d{1,16}$/.test(text.trim()) ? Number(text.trim()) : undefined;
};

/** The state of one upload into `path`. */
export class UploadReceiver {
  private offset = 0;
  private length: number | undefined;
  private busy = false;
  private finish!: () => void;
  /** Resolves once every byte of upload-length arrived (and was synced to the file). */
  readonly complete: Promise<void> = new Promise((resolve) => (this.finish = resolve));

  constructor(
    private readonly path: string,
    private readonly progress: ImportProgress,
  ) {}

  /** Pick up a file left by an earlier container of the same pod. */
  async resume(): Promise<void> {
    const length = count((await readFile(`${this.path}.length`, 'utf8').catch(() => undefined))?.trim());
    const size = (await stat(this.path).catch(() => undefined))?.size ?? 0;
    if (length === undefined) return;
    this.length = length;
    this.offset = Math.min(size, length);
    this.progress.reading(length);
    this.progress.read(this.offset);
    if (this.offset === length) this.finish();
  }

  private headers(): Record<string, string> {
    return { [UPLOAD_OFFSET_HEADER]: String(this.offset), ...(this.length === undefined ? {} : { [UPLOAD_LENGTH_HEADER]: String(this.length) }) };
  }

  private refuse(status: number, reason: string, message: string): UploadAnswer {
    return { status, headers: this.headers(), body: { reason, message, offset: this.offset } };
  }

  /** `HEAD /upload`: how much arrived, and of how much. */
  head(): UploadAnswer {
    return { status: 200, headers: this.headers() };
  }

  /** Why a PUT with these headers cannot be taken, or undefined. */
  private check(headers: IncomingHttpHeaders): UploadAnswer | undefined {
    if (this.busy) return this.refuse(409, 'UploadInProgress', 'another PUT /upload is still being received; wait for it to end, then HEAD /upload for the offset');
    if (this.length !== undefined && this.offset === this.length) return this.refuse(409, 'UploadComplete', 'the upload is complete');
    const offset = count(headers[UPLOAD_OFFSET_HEADER]);
    if (offset === undefined) return this.refuse(400, 'InvalidHeader', `${UPLOAD_OFFSET_HEADER} must be the byte offset the body starts at (HEAD /upload tells it)`);
    if (offset !== this.offset) return this.refuse(409, 'OffsetMismatch', `the body must start at byte ${this.offset}, not ${offset}: resume from ${UPLOAD_OFFSET_HEADER} of HEAD /upload`);
    return this.checkLength(offset, headers);
  }

  private checkLength(offset: number, headers: IncomingHttpHeaders): UploadAnswer | undefined {
    const length = count(headers[UPLOAD_LENGTH_HEADER]);
    if (this.length === undefined && (length === undefined || length === 0 || length > MAX_UPLOAD_BYTES)) {
      return this.refuse(400, 'InvalidHeader', `the first PUT must give ${UPLOAD_LENGTH_HEADER}: the file's size in bytes, 1 to ${MAX_UPLOAD_BYTES}`);
    }
    if (this.length !== undefined && length !== undefined && length !== this.length) return this.refuse(409, 'LengthMismatch', `this upload is ${this.length} bytes long, not ${length}: finish it, or delete and recreate the image for another file`);
    const declared = count(headers['content-length']);
    const total = this.length ?? length!;
    if (declared !== undefined && offset + declared > total) return this.refuse(413, 'TooLarge', `the body would end at byte ${offset + declared}, past ${UPLOAD_LENGTH_HEADER} ${total}`);
    return undefined;
  }

  /** `PUT /upload`: append the body; a cut body keeps what was written, and the next PUT goes on from there. */
  async put(body: Readable, headers: IncomingHttpHeaders): Promise<UploadAnswer> {
    const refused = this.check(headers);
    if (refused) {
      body.resume();
      return refused;
    }
    this.busy = true;
    try {
      if (this.length === undefined) {
        this.length = count(headers[UPLOAD_LENGTH_HEADER])!;
        await writeFile(`${this.path}.length`, `${this.length}\n`);
        this.progress.reading(this.length);
      }
      return await this.receive(body);
    } finally {
      this.busy = false;
    }
  }

  private async receive(body: Readable): Promise<UploadAnswer> {
    const start = this.offset;
    const room = this.length! - start;
    let seen = 0;
    const file = createWriteStream(this.path, { flags: start === 0 ? 'w' : 'r+', start, highWaterMark: 1024 * 1024 });
    let failure: unknown;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        seen += chunk.length;
        if (seen > room) {
          failure = { tooLarge: true };
          break;
        }
        if (!file.write(chunk)) await once(file, 'drain');
      }
    } catch (err) {
      failure = err;
    }
    // Flush what arrived before the body ended, however it ended: those bytes count.
    file.end();
    await finished(file).catch((err: unknown) => (failure ??= err));
    this.offset = start + file.bytesWritten;
    this.progress.read(file.bytesWritten);
    if ((failure as { tooLarge?: boolean } | undefined)?.tooLarge) return this.refuse(413, 'TooLarge', `the body goes past ${UPLOAD_LENGTH_HEADER} ${this.length}`);
    if (failure) return this.refuse(400, 'UploadCut', `the body ended early at byte ${this.offset}: ${(failure as Error).message}; resume from there`);
    if (this.offset === this.length) {
      this.finish();
      return { status: 201, headers: this.headers() };
    }
    return { status: 204, headers: this.headers() };
  }
}
