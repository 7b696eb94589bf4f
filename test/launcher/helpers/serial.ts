// Reading the guest's serial console from QEMU's serial log file (the chardev's logfile), so
// tests see everything since boot without holding the console socket.

import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Follows a serial log; `waitFor` resolves with the first match after the cursor. */
export class SerialLog {
  private cursor = 0;

  constructor(private readonly path: string) {}

  /** The whole log so far ('' before QEMU created it). */
  async text(): Promise<string> {
    try {
      return (await readFile(this.path)).toString('utf8');
    } catch {
      return '';
    }
  }

  /**
   * Wait until `pattern` appears after the last match; move the cursor past it. Fails with
   * the log's tail so a failed boot explains itself in the test output.
   */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await this.text();
      const rest = text.slice(this.cursor);
      const match = rest.match(pattern);
      if (match && match.index !== undefined) {
        this.cursor += match.index + match[0].length;
        return match;
      }
      if (Date.now() > deadline) {
        throw new Error(`serial console: no ${pattern} within ${timeoutMs} ms; last output:\n${text.slice(-1500)}`);
      }
      await sleep(100);
    }
  }
}
