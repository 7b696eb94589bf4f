// Joining a client's upgraded connection to the socket of its stream (QEMU's VNC server, a
// guest port), byte for byte in both directions, until either end goes.

import type { Duplex } from 'node:stream';

/** How long a side may stay open once the other has ended and closed; a guest can ignore a FIN. */
export const SPLICE_LINGER_MS = 10_000;

/**
 * Pipes `a` into `b` and `b` into `a`. An end (FIN) is passed on as an end, so the last bytes
 * of one side still reach the other; a side that closes without ending (an error, a reset)
 * takes the other one down at once. Once one side has closed, nothing reads what the other
 * still sends: it is dropped, and the other side is closed after `lingerMs` if it has not
 * closed by then (a guest that never closes its end holds nothing for long).
 */
export function splice(a: Duplex, b: Duplex, lingerMs = SPLICE_LINGER_MS): void {
  if (a.destroyed || b.destroyed) {
    // One side went while the other was being opened: its 'close' has been and gone.
    a.destroy();
    b.destroy();
    return;
  }
  for (const [side, other] of [
    [a, b],
    [b, a],
  ] as const) {
    side.on('error', () => side.destroy());
    side.once('close', () => {
      if (!other.writableEnded) return void other.destroy();
      other.resume();
      const timer = setTimeout(() => other.destroy(), lingerMs);
      timer.unref();
      other.once('close', () => clearTimeout(timer));
    });
    side.pipe(other);
  }
}
