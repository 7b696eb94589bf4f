// Joining a client's upgraded connection to the socket of its stream (QEMU's VNC server, a
// guest port), byte for byte in both directions, until either end goes.

import type { Duplex } from 'node:stream';

/**
 * Pipes `a` into `b` and `b` into `a`. An end (FIN) is passed on as an end, so the last bytes
 * of one side still reach the other before it closes; a side that closes without ending (an
 * error, a reset) takes the other one down at once.
 */
export function splice(a: Duplex, b: Duplex): void {
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
      if (!other.writableEnded) other.destroy();
    });
    side.pipe(other);
  }
}
