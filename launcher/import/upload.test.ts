import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ImportProgress } from './progress.js';
import { UploadReceiver } from './upload.js';

const body = (...parts: (string | Error)[]): Readable =>
  Readable.from(
    (async function* () {
      for (const p of parts) {
        if (p instanceof Error) throw p;
        yield Buffer.from(p);
      }
    })(),
  );

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'upload-test-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('UploadReceiver', () => {
  it('takes a file in pieces at the offsets it gives, and completes at upload-length', async () => {
    const progress = new ImportProgress();
    const r = new UploadReceiver(join(dir, 'up'), progress);
    expect(r.head()).toEqual({ status: 200, headers: { 'upload-offset': '0' } });
    expect(await r.put(body('hello '), { 'upload-offset': '0', 'upload-length': '11' })).toEqual({ status: 204, headers: { 'upload-offset': '6', 'upload-length': '11' } });
    expect(progress.status()).toMatchObject({ bytesRead: 6, bytesTotal: 11 });
    expect(await r.put(body('world'), { 'upload-offset': '6' })).toMatchObject({ status: 201 });
    await r.complete;
    expect(await readFile(join(dir, 'up'), 'utf8')).toBe('hello world');
    expect(await r.put(body('!'), { 'upload-offset': '11' })).toMatchObject({ status: 409, body: { reason: 'UploadComplete' } });
  });

  it('keeps what reached the file of a cut body; the next PUT must start there', async () => {
    const r = new UploadReceiver(join(dir, 'up'), new ImportProgress());
    const cut = await r.put(body('abc', 'def', new Error('aborted')), { 'upload-offset': '0', 'upload-length': '9' });
    expect(cut).toMatchObject({ status: 400, body: { reason: 'UploadCut', offset: 6 } });
    expect(await r.put(body('x'), { 'upload-offset': '3' })).toMatchObject({ status: 409, body: { reason: 'OffsetMismatch', offset: 6 } });
    expect(await r.put(body('ghi'), { 'upload-offset': '6' })).toMatchObject({ status: 201 });
    expect(await readFile(join(dir, 'up'), 'utf8')).toBe('abcdefghi');
  });

  it.each([
    ['no offset', { 'upload-length': '5' }, 400, 'InvalidHeader'],
    ['no length on the first PUT', { 'upload-offset': '0' }, 400, 'InvalidHeader'],
    ['a zero length', { 'upload-offset': '0', 'upload-length': '0' }, 400, 'InvalidHeader'],
    ['a negative offset', { 'upload-offset': '-1', 'upload-length': '5' }, 400, 'InvalidHeader'],
    ['a body declared past the length', { 'upload-offset': '0', 'upload-length': '5', 'content-length': '6' }, 413, 'TooLarge'],
  ])('refuses %s', async (_name, headers, status, reason) => {
    const r = new UploadReceiver(join(dir, 'up'), new ImportProgress());
    expect(await r.put(body('hello'), headers)).toMatchObject({ status, body: { reason } });
  });

  it('refuses a body that runs past the length, keeping only what fits', async () => {
    const r = new UploadReceiver(join(dir, 'up'), new ImportProgress());
    expect(await r.put(body('hel', 'lo!'), { 'upload-offset': '0', 'upload-length': '5' })).toMatchObject({ status: 413, body: { reason: 'TooLarge', offset: 3 } });
  });

  it('refuses another length for the same upload, and a second PUT while one is received', async () => {
    const r = new UploadReceiver(join(dir, 'up'), new ImportProgress());
    await r.put(body('ab'), { 'upload-offset': '0', 'upload-length': '4' });
    expect(await r.put(body('cd'), { 'upload-offset': '2', 'upload-length': '5' })).toMatchObject({ status: 409, body: { reason: 'LengthMismatch' } });
    let release!: () => void;
    const slow = Readable.from(
      (async function* () {
        yield Buffer.from('c');
        await new Promise<void>((r2) => (release = r2));
        yield Buffer.from('d');
      })(),
    );
    const first = r.put(slow, { 'upload-offset': '2' });
    await new Promise((r2) => setTimeout(r2, 20));
    expect(await r.put(body('d'), { 'upload-offset': '3' })).toMatchObject({ status: 409, body: { reason: 'UploadInProgress' } });
    release();
    expect(await first).toMatchObject({ status: 201 });
  });

  it('a restarted container picks up the file and its length', async () => {
    await writeFile(join(dir, 'up'), 'abc');
    await writeFile(join(dir, 'up.length'), '6\n');
    const r = new UploadReceiver(join(dir, 'up'), new ImportProgress());
    await r.resume();
    expect(r.head().headers).toEqual({ 'upload-offset': '3', 'upload-length': '6' });
  });
});
