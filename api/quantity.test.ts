import { formatBytes, formatCpu, isQuantity, parseQuantity } from './quantity.js';

describe('parseQuantity', () => {
  it.each([
    ['2Gi', 2 * 1024 ** 3],
    ['512Mi', 512 * 1024 ** 2],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['500m', 0.5],
    ['1k', 1000],
    ['1e3', 1000],
    ['10G', 1e10],
    [1024, 1024],
    ['.5Ki', 512],
  ])('%s -> %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value);
  });

  it.each(['2GB', 'two', '', '1.2.3Mi', 'Gi'])('rejects %p', (text) => {
    expect(isQuantity(text)).toBe(false);
    expect(() => parseQuantity(text)).toThrow(/not a quantity/);
  });
});

describe('formatBytes / formatCpu', () => {
  it.each([
    [2 * 1024 ** 3, '2Gi'],
    [1536 * 1024 ** 2, '1536Mi'],
    [100 * 1024, '100Ki'],
    [1000, '1000'],
  ])('formatBytes(%d) = %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));

  it.each([
    [0.2, '200m'],
    [2, '2'],
    [0.1, '100m'],
    [1.25, '1250m'],
  ])('formatCpu(%d) = %s', (cores, text) => expect(formatCpu(cores)).toBe(text));
});
