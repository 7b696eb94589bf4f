import { ioRetryDelayMs } from './backoff.js';

describe('ioRetryDelayMs', () => {
  it('doubles from 1 s and stops at 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 100].map((a) => ioRetryDelayMs(a))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
  it('follows a custom policy', () => {
    expect(ioRetryDelayMs(2, { initialMs: 10, maxMs: 25 })).toBe(25);
  });
});
