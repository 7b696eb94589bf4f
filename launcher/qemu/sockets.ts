// The runtime files QEMU creates. Names are fixed so that the launcher, `kubevmm console` and
// debugging humans find them without reading the plan.
import { posix } from 'node:path';
import { LAYOUT } from '../../api/layout.js';
import type { LauncherVm } from '../../api/resolve.js';
import { LauncherInputError } from './errors.js';
import type { QemuPlan } from './types.js';

/** File names inside the runtime directory. */
export const RUNTIME_FILES = {
  qmp: 'qmp.sock',
  serial: 'serial.sock',
  /** The launcher's console socket (launcher/runtime/serial.ts), where sessions attach. */
  console: 'console.sock',
  /** The console log the launcher writes (bounded, rotated to serial.log.1). */
  serialLog: LAYOUT.consoleLogName,
  vnc: 'vnc.sock',
  guestAgent: 'qga.sock',
} as const;

/** sockaddr_un.sun_path holds 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

function socketPath(runtimeDir: string, file: string): string {
  const path = posix.join(runtimeDir, file);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new LauncherInputError(
      `socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes, the limit of a unix socket address; use a shorter runtime directory`,
    );
  }
  return path;
}

/** Paths of the sockets and logs for this VM; only devices the VM has get a socket. */
export function runtimeSockets(runtimeDir: string, devices: LauncherVm['devices']): QemuPlan['sockets'] {
  return {
    qmp: socketPath(runtimeDir, RUNTIME_FILES.qmp),
    serial: socketPath(runtimeDir, RUNTIME_FILES.serial),
    console: socketPath(runtimeDir, RUNTIME_FILES.console),
    serialLog: posix.join(runtimeDir, RUNTIME_FILES.serialLog),
    ...(devices.graphics === 'vnc' ? { vnc: socketPath(runtimeDir, RUNTIME_FILES.vnc) } : {}),
    ...(devices.guestAgent ? { guestAgent: socketPath(runtimeDir, RUNTIME_FILES.guestAgent) } : {}),
  };
}
