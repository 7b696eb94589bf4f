import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { MAX_PUT_BYTES, MIN_PUT_BYTES, nextPutBytes, retryDelayMs, UploadCallError, UploadMismatchError, uploadFile, type UploadPut, type UploadTransport } from './upload-loop.js';

/**
 * An importer behind a flaky network: it stores the bytes that arrive in order, and each entry
 * of `faults` spoils one call (`drop@N`: the connection breaks after N bytes of the PUT's body;
 * `503`: the API server answers 503 before any byte; `nopod`: HEAD answers 503 as when no importer runs yet).
 */
class FlakyImporter implements UploadTransport {
  stored = Buffer.alloc(0);
  length?: number;
  calls: string[] = [];
  constructor(public faults: string[] = []) {}

  async head() {
    this.calls.push(`HEAD ${this.stored.length}`);
    if (this.faults[0] === 'nopod') {
      this.faults.shift();
      throw new UploadCallError('503: no importer pod yet', true);
    }
    return { offset: this.stored.length, ...(this.length === undefined ? {} : { length: this.length }) };
  }

  async put(put: UploadPut): Promise<number> {
    this.calls.push(`PUT ${put.offset}-${put.end}${put.length === undefined ? '' : ` length=${put.length}`}`);
    if (put.offset !== this.stored.length) throw new UploadCallError('offset mismatch', true, this.stored.length);
    if (put.length !== undefined) this.length = put.length;
    const fault = this.faults.shift();
    if (fault === '503') {
      put.body.destroy();
      throw new UploadCallError('503: the API server is busy', true);
    }
    const cut = fault?.startsWith('drop@') ? Number(fault.slice(5)) : Infinity;
    for await (const chunk of put.body as AsyncIterable<Buffer>) {
      const room = cut - (this.stored.length - put.offset);
      this.stored = Buffer.concat([this.stored, chunk.subarray(0, Math.max(0, room))]);
      put.onBytes(this.stored.length - put.offset);
      if (room <= chunk.length) {
        put.body.destroy();
        throw new UploadCallError('the connection dropped: socket hang up', true);
      }
    }
    return this.stored.length;
  }
}

function run(transport: UploadTransport, file: Buffer, extra: { stallMs?: number; now?: () => number } = {}) {
  const seen: number[] = [];
  const waits: number[] = [];
  const done = uploadFile({
    transport,
    size: file.length,
    open: (start, end) => Readable.from([file.subarray(start, end)]),
    progress: (offset) => seen.push(offset),
    stallMs: extra.stallMs ?? 60_000,
    sleep: async (ms) => void waits.push(ms),
    ...(extra.now ? { now: extra.now } : {}),
  });
  return { done, seen, waits };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the upload loop', () => {
  it('sends the file in order as PUTs from the importer’s offset, telling the length once', async () => {
    const file = randomBytes(20 * 2 ** 20 + 5);
    const importer = new FlakyImporter();
    const { done } = run(importer, file);
    await done;
    expect(sha(importer.stored)).toBe(sha(file));
    expect(importer.calls[0]).toBe('HEAD 0');
    expect(importer.calls[1]).toBe(`PUT 0-${8 * 2 ** 20} length=${file.length}`);
    expect(importer.calls.slice(2).every((c) => !c.includes('length='))).toBe(true);
  });

  it('resumes after dropped connections and 503s from where the importer is, asking HEAD, with backoff', async () => {
    const file = randomBytes(3 * 2 ** 20);
    const importer = new FlakyImporter(['nopod', 'drop@1000000', '503', 'drop@5']);
    const { done, waits, seen } = run(importer, file);
    await done;
    expect(sha(importer.stored)).toBe(sha(file));
    expect(importer.calls).toEqual(['HEAD 0', 'HEAD 0', `PUT 0-${file.length} length=${file.length}`, 'HEAD 1000000', `PUT 1000000-${file.length}`, 'HEAD 1000000', `PUT 1000000-${file.length}`, 'HEAD 1000005', `PUT 1000005-${file.length}`]);
    // consecutive failures back off; bytes that got through (seen by the next HEAD) reset it
    expect(waits).toEqual([1000, 2000, 1000, 2000]);
    expect(seen.at(-1)).toBe(file.length);
  });

  it('continues a transfer an earlier run left half done, without sending the length again', async () => {
    const file = randomBytes(2 ** 20);
    const importer = new FlakyImporter();
    importer.stored = Buffer.from(file.subarray(0, 4096));
    importer.length = file.length;
    await run(importer, file).done;
    expect(importer.calls).toEqual(['HEAD 4096', `PUT 4096-${file.length}`]);
    expect(sha(importer.stored)).toBe(sha(file));
  });

  it('refuses another file than the one the upload was started with', async () => {
    const importer = new FlakyImporter();
    importer.length = 999;
    await expect(run(importer, randomBytes(1000)).done).rejects.toThrow(UploadMismatchError);
    await expect(run(importer, randomBytes(1000)).done).rejects.toThrow('this image\'s upload was started with a file of 999 bytes; this file has 1000');
  });

  it('gives up on a refusal at once, and on transient failures once nothing progressed for the stall time', async () => {
    const refusing: UploadTransport = { head: async () => Promise.reject(new UploadCallError('forbidden', false)), put: async () => 0 };
    await expect(run(refusing, randomBytes(10)).done).rejects.toThrow('forbidden');
    let clock = 0;
    const down: UploadTransport = {
      head: async () => {
        clock += 10_000;
        throw new UploadCallError('503: no importer pod yet', true);
      },
      put: async () => 0,
    };
    await expect(run(down, randomBytes(10), { stallMs: 30_000, now: () => clock }).done).rejects.toThrow(/nothing progressed for 30 s, giving up \(run the same command again to resume\)/);
  });

  it('sizes PUTs to about ten seconds of sending, within bounds, and backs off up to 15 s', () => {
    expect(nextPutBytes()).toBe(8 * 2 ** 20);
    expect(nextPutBytes({ bytes: 8 * 2 ** 20, seconds: 1 })).toBe(80 * 2 ** 20);
    expect(nextPutBytes({ bytes: 2 ** 30, seconds: 0.5 })).toBe(MAX_PUT_BYTES);
    expect(nextPutBytes({ bytes: 1000, seconds: 60 })).toBe(MIN_PUT_BYTES);
    expect([1, 2, 3, 4, 5, 9].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 15_000, 15_000]);
  });
});
