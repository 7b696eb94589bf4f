import { ImportError } from './errors.js';
import { ImportProgress } from './progress.js';

describe('ImportProgress', () => {
  it('rises through reading (0-80), converting (80-99), and reaches 100 only when done', () => {
    const p = new ImportProgress();
    expect(p.status()).toEqual({ phase: 'Waiting', bytesRead: 0, percent: 0, checksumVerified: false, retries: 0 });
    p.reading(1000);
    p.read(500);
    expect(p.status()).toMatchObject({ phase: 'Downloading', bytesRead: 500, bytesTotal: 1000, percent: 40 });
    p.read(500);
    p.detected('qcow2', 4096);
    p.converting(50);
    expect(p.status()).toMatchObject({ phase: 'Converting', percent: 89, format: 'qcow2', virtualSizeBytes: 4096 });
    p.converting(10);
    expect(p.percent()).toBe(89);
    p.verifying();
    expect(p.percent()).toBe(99);
    p.done();
    expect(p.percent()).toBe(100);
  });

  it('reads 0 % while the size is unknown, and never past 80 % while reading', () => {
    const p = new ImportProgress();
    p.reading();
    p.read(10);
    expect(p.percent()).toBe(0);
    p.total(5);
    expect(p.percent()).toBe(80);
  });

  it('shows a transient failure until bytes flow again, counting retries; a permanent one stays', () => {
    const p = new ImportProgress();
    p.reading(100);
    p.retrying(new ImportError({ reason: 'HttpError', message: 'answered 503', permanent: false }));
    expect(p.status()).toMatchObject({ retries: 1, failure: { reason: 'HttpError', message: 'answered 503', permanent: false } });
    p.read(1);
    expect(p.status().failure).toBeUndefined();
    p.failed(new ImportError({ reason: 'NotFound', message: 'gone' }));
    p.read(1);
    expect(p.status()).toMatchObject({ phase: 'Failed', failure: { reason: 'NotFound', permanent: true }, retries: 1 });
  });
});
