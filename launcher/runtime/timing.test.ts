import { jest } from '@jest/globals';
import { longTimeout, MAX_TIMER_MS } from './timing.js';

describe('longTimeout', () => {
  afterEach(() => jest.useRealTimers());

  it('waits out a delay longer than one setTimeout holds (3,000,000 s) instead of firing at once', () => {
    jest.useFakeTimers({ now: 0 });
    const fired = jest.fn();
    longTimeout(fired, 3_000_000 * 1000);
    jest.advanceTimersByTime(1_000);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(3_000_000 * 1000 - MAX_TIMER_MS - 1_000);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('fires a short delay once, asynchronously, and can be cancelled', () => {
    jest.useFakeTimers({ now: 0 });
    const fired = jest.fn();
    longTimeout(fired, 0);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(0);
    expect(fired).toHaveBeenCalledTimes(1);
    const cancelled = jest.fn();
    longTimeout(cancelled, 10)();
    jest.advanceTimersByTime(20);
    expect(cancelled).not.toHaveBeenCalled();
  });
});
