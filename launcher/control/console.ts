// The interactive serial console as a control API stream (ADR 0011): the upgraded connection
// joins the launcher's serial fan-out like a session on its local socket. The first session
// types, later ones mirror it; the answer's `kubevmm-console-mode` header says which this one is.

import { CONSOLE_MODE_HEADER } from '../../api/contract/control.js';
import { LauncherError } from '../runtime/errors.js';
import type { ConsoleAttacher } from '../runtime/serial.js';
import type { StreamEndpoint } from './upgrade.js';

/** The console endpoint; `source` gives the serial fan-out while QEMU runs, else undefined. */
export function consoleEndpoint(source: () => ConsoleAttacher | undefined): StreamEndpoint {
  return async ({ socket, switchProtocols }) => {
    const mode = source()?.attach(socket, (m) => switchProtocols({ [CONSOLE_MODE_HEADER]: m }));
    if (!mode) throw new LauncherError({ reason: 'WrongState', kind: 'conflict', message: 'the VM has no serial console now: QEMU is not running (starting, or ended)' });
    return { detail: mode };
  };
}
