// The VM's display for a viewer: a connection to QEMU's VNC server on its unix socket, one per
// viewer. QEMU serves every viewer at once and none can push the others off (`share=ignore`,
// launcher/qemu/console.ts), so the web console and a CLI viewer can both be open.

import type { Socket } from 'node:net';
import { connectSocket } from './connect.js';
import { LauncherError, describeError } from './errors.js';

/** Where the display is. */
export interface VncDisplay {
  /** QEMU's VNC socket; undefined when the VM has no display (`spec.devices.graphics: none`). */
  socket: string | undefined;
  /** True while QEMU runs (its monitor answers). */
  running(): boolean;
}

/** Connects one viewer to QEMU's VNC server; the socket then speaks RFB, QEMU's greeting first. */
export async function openDisplay(display: VncDisplay, signal?: AbortSignal): Promise<Socket> {
  if (!display.socket) {
    throw new LauncherError({
      reason: 'NoDisplay',
      kind: 'conflict',
      message: 'this VM has no VNC display (spec.devices.graphics is none): set spec.devices.graphics: vnc; a change of devices needs a restart of the VM',
    });
  }
  if (!display.running()) throw new LauncherError({ reason: 'WrongState', kind: 'conflict', message: 'the VM has no display now: QEMU is not running (starting, or ended)' });
  try {
    return await connectSocket({ path: display.socket }, signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new LauncherError({ reason: 'DisplayUnreachable', kind: 'unreachable', message: `QEMU's VNC socket ${display.socket} does not answer: ${describeError(err)}`, cause: err });
  }
}
