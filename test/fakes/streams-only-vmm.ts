// A VM controller for tests of the control API's streams: it reports a running VM, and every
// operation on the VM fails, because a stream must never reach one.
import type { LauncherStatus, VmController } from '../../launcher/runtime/status.js';

const unexpected = (): Promise<never> => Promise.reject(new Error('a stream test reached a VM operation'));

/** A running VM whose operations are out of bounds. */
export const streamsOnlyVmm: VmController = {
  status: (): LauncherStatus => ({ state: 'running', accelerator: 'tcg', startedAt: '2026-01-01T00:00:00.000Z', disks: [] }),
  pause: unexpected,
  resume: unexpected,
  reset: unexpected,
  stop: unexpected,
  attachDisk: unexpected,
  detachDisk: unexpected,
};
