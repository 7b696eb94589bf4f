// Watching the serial log QEMU writes (the console chardev's logfile) for a marker line.
// Polling a small file every few milliseconds costs little and sees everything since boot.

import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often the log is read; the resolution of every marker time. */
export const POLL_MS = 10;

/** Options of {@link waitForMarker}. */
export interface MarkerWait {
  /** The serial log file (it may not exist yet). */
  path: string;
  /** Text to find, e.g. `KUBEVMM-GUEST booted`. */
  marker: string;
  timeoutMs: number;
  /** Settles when waiting is pointless (QEMU exited); the wait then fails. */
  gone?: Promise<unknown>;
}

async function contents(path: string): Promise<string> {
  try {
    return await readFile(path, 'latin1');
  } catch {
    return '';
  }
}

/**
 * Resolves with `performance.now()` at the first poll that sees the marker; rejects with the
 * log's tail on timeout or when `gone` settles first.
 */
export async function waitForMarker(wait: MarkerWait): Promise<number> {
  let ended = false;
  void wait.gone?.then(
    () => (ended = true),
    () => (ended = true),
  );
  const deadline = performance.now() + wait.timeoutMs;
  for (;;) {
    const text = await contents(wait.path);
    if (text.includes(wait.marker)) return performance.now();
    if (ended || performance.now() > deadline) {
      const why = ended ? 'QEMU exited' : `not within ${wait.timeoutMs} ms`;
      throw new Error(`no "${wait.marker}" on the serial console (${why}); last output:\n${text.slice(-800)}`);
    }
    await sleep(POLL_MS);
  }
}
