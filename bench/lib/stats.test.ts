import { formatSummary, summarize } from './stats.js';

describe('summarize', () => {
  it('gives the median of odd and even sample counts, with min and max', () => {
    expect(summarize([5, 1, 3])).toEqual({ n: 3, median: 3, min: 1, max: 5 });
    expect(summarize([4, 1, 3, 2])).toEqual({ n: 4, median: 2.5, min: 1, max: 4 });
  });

  it('ignores samples that are not numbers (a milestone a variant does not have)', () => {
    expect(summarize([NaN, 2]).n).toBe(1);
    expect(formatSummary(summarize([NaN]))).toBe('-');
  });

  it('prints median (min–max)', () => {
    expect(formatSummary(summarize([1.04, 2, 3]), 1)).toBe('2.0 (1.0–3.0)');
  });
});
