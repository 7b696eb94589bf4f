import { BoundedHistory, mustRotate } from './serial-buffer.js';

describe('BoundedHistory', () => {
  it('keeps the last bytes written, oldest first', () => {
    const h = new BoundedHistory(8);
    h.push(Buffer.from('abcde'));
    h.push(Buffer.from('fgh'));
    expect(h.contents().toString()).toBe('abcdefgh');
    h.push(Buffer.from('ij'));
    expect(h.contents().toString()).toBe('cdefghij');
    expect(h.length).toBe(8);
  });

  it('keeps the tail of a single write larger than its capacity', () => {
    const h = new BoundedHistory(4);
    h.push(Buffer.from('0123456789'));
    expect(h.contents().toString()).toBe('6789');
  });

  it('keeps nothing with capacity 0 and refuses a negative one', () => {
    const h = new BoundedHistory(0);
    h.push(Buffer.from('x'));
    expect(h.contents()).toHaveLength(0);
    expect(() => new BoundedHistory(-1)).toThrow(RangeError);
  });

  it('does not change what it returned earlier', () => {
    const h = new BoundedHistory(3);
    const chunk = Buffer.from('abc');
    h.push(chunk);
    chunk.write('zzz');
    expect(h.contents().toString()).toBe('abc');
  });
});

describe('mustRotate', () => {
  it.each([
    [0, 10, 5, false], // an empty log takes even an oversized write
    [3, 2, 5, false], // exactly at the limit
    [3, 3, 5, true],
    [5, 1, 5, true],
  ])('current %d + incoming %d, limit %d -> %s', (current, incoming, limit, expected) => {
    expect(mustRotate(current, incoming, limit)).toBe(expected);
  });
});
