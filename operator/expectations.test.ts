import { Expectations } from './expectations.js';

test('a write is expected until the cache shows it, or until it is too old to wait for', () => {
  let now = 1000;
  const e = new Expectations(10_000, () => now);
  expect(e.pending('a/web')).toBe(false);
  e.expect('a/web');
  expect(e.pending('a/web')).toBe(true);
  expect(e.pending('a/db')).toBe(false);
  e.seen('a/web');
  expect(e.pending('a/web')).toBe(false);
  e.expect('a/web');
  now += 10_001;
  expect(e.pending('a/web')).toBe(false);
});
