import { parseRange } from './byte-range.js';

const SIZE = 1000;

describe('parseRange', () => {
  it.each([
    [undefined, { kind: 'full' }],
    ['bytes=0-99', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=500-', { kind: 'partial', start: 500, end: 999 }],
    ['bytes=-100', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    // an end past the file is cut to it (RFC 9110 14.1.2)
    ['bytes=900-123456', { kind: 'partial', start: 900, end: 999 }],
    ['BYTES = 0-0'.replace(' = ', '='), { kind: 'partial', start: 0, end: 0 }],
  ])('serves %s as %j', (header, answer) => {
    expect(parseRange(header, SIZE)).toEqual(answer);
  });

  it.each([
    // an attacker's ranges: negative, reversed, several (overlapping ones would multiply the bytes sent), huge, other units
    ['bytes=-5-10', 'invalid'],
    ['bytes=10-5', 'invalid'],
    ['bytes=--1', 'invalid'],
    ['bytes=-', 'invalid'],
    ['bytes=1e3-', 'invalid'],
    ['bytes=0x10-', 'invalid'],
    ['bytes=9999999999999999-', 'invalid'],
    ['items=0-10', 'invalid'],
    ['bytes=0-10,5-20', 'unsatisfiable'],
    ['bytes=0-999,0-999,0-999', 'unsatisfiable'],
    ['bytes=1000-', 'unsatisfiable'],
    ['bytes=5000-6000', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
  ])('refuses %s (%s), never guessing', (header, kind) => {
    const answer = parseRange(header, SIZE);
    expect(answer.kind).toBe(kind);
    expect(answer.kind !== 'full' && answer.kind !== 'partial' && answer.message.length).toBeGreaterThan(10);
  });

  it('has nothing to give from an empty file but the whole of it', () => {
    expect(parseRange(undefined, 0)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-', 0).kind).toBe('unsatisfiable');
  });
});
