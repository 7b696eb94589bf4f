import { jest } from '@jest/globals';
import { CLEAR_LINE, fitWidth, printable, ProgressLine, progressText } from './progress.js';

/** A stream that keeps what was written; a terminal when `isTTY`. */
function stream(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { chunks, isTTY, ...(columns ? { columns } : {}), write: (c: string) => chunks.push(c) };
}

describe('the progress line', () => {
  it('says which VM, what it is doing and for how long', () => {
    expect(progressText('web-1: Stopping', 12_900)).toBe('vm/web-1: Stopping (12s)');
  });

  it('writes no control characters from the cluster: an escape sequence in a status message cannot reach the terminal', () => {
    expect(printable('web: disk data Failed: \u001b]0;pwned\u0007\u001b[2Jgone\nnext\u009b')).toBe('web: disk data Failed: ?]0;pwned??[2Jgone?next?');
    expect(progressText('web: \u001b[31mRunning', 0)).toBe('vm/web: ?[31mRunning (0s)');
  });

  it('in a pipe or log: one line per change, nothing rewritten', () => {
    let now = 0;
    const out = stream(false);
    const line = new ProgressLine(out, () => now);
    line.show('web: Running');
    now = 2000;
    line.show('web: Running');
    line.show('web: Stopping');
    line.end();
    expect(out.chunks).toEqual(['vm/web: Running (0s)\n', 'vm/web: Stopping (2s)\n']);
  });

  it('on a terminal: one line rewritten in place, and erased at the end for the final state', () => {
    let now = 0;
    const tty = stream(true, 80);
    const line = new ProgressLine(tty, () => now);
    line.show('web: Running');
    now = 3000;
    line.show('web: Stopping');
    line.end();
    expect(tty.chunks).toEqual([`${CLEAR_LINE}vm/web: Running (0s)`, `${CLEAR_LINE}vm/web: Stopping (3s)`, CLEAR_LINE]);
    expect(tty.chunks.join('')).not.toContain('\n');
  });

  it('never wraps on a narrow terminal (a wrapped line cannot be rewritten)', () => {
    expect(fitWidth('vm/a-very-long-name: disk data Attaching', 20)).toBe('vm/a-very-long-n...');
    expect(fitWidth('vm/web: Running (1s)', 80)).toBe('vm/web: Running (1s)');
    const tty = stream(true, 12);
    new ProgressLine(tty, () => 0).show('web: Provisioning');
    expect(tty.chunks).toEqual([`${CLEAR_LINE}vm/web: ...`]);
  });

  it('keeps counting seconds on a terminal while nothing changes', () => {
    jest.useFakeTimers();
    try {
      let now = 0;
      const tty = stream(true, 80);
      const line = new ProgressLine(tty, () => now);
      line.show('web: Stopping');
      now = 1000;
      jest.advanceTimersByTime(1000);
      now = 2000;
      jest.advanceTimersByTime(1000);
      line.end();
      jest.advanceTimersByTime(5000);
      expect(tty.chunks).toEqual([`${CLEAR_LINE}vm/web: Stopping (0s)`, `${CLEAR_LINE}vm/web: Stopping (1s)`, `${CLEAR_LINE}vm/web: Stopping (2s)`, CLEAR_LINE]);
    } finally {
      jest.useRealTimers();
    }
  });
});
