// What the outside (control API, `kubevmm play`) sees of a VM and may ask of it. The control
// server depends on this interface only, so it is tested with a fake.

import type { AttachRequest, DiskStatus, GuestInfo, LauncherStatus } from '../../api/contract/control.js';
import type { LauncherVm } from '../../api/resolve.js';
import type { QemuPlan } from '../qemu/index.js';
import type { RunOutcome } from './outcome.js';
import type { VmPhase } from './state.js';

export type { AttachRequest, DiskStatus, GuestInfo, LauncherStatus, RunOutcome, VmPhase };

/** Why a stop was requested; ends up in the outcome when the guest does not power off itself. */
export interface StopRequest {
  reason: string;
  message: string;
  /** Do not wait for the guest: `quit` QEMU at once (a second Ctrl-C in `kubevmm play`). */
  force?: boolean;
}

/**
 * The operations on a running VM. Methods reject with a LauncherError: `kind` conflict for
 * the wrong state (e.g. pause while stopping), not-found/invalid for bad disk requests.
 */
export interface VmController {
  status(): LauncherStatus;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Hard reset (the reset button). */
  reset(): Promise<void>;
  /**
   * Graceful stop: guest agent or ACPI power button, up to the grace period, then `quit`.
   * Returns at once; the returned promise resolves with the outcome once QEMU has exited.
   */
  stop(request?: StopRequest): Promise<RunOutcome>;
  attachDisk(request: AttachRequest): Promise<DiskStatus>;
  detachDisk(name: string): Promise<void>;
}

/**
 * status.disks: every disk of the spec in spec order (cold-plugged ones Attached with their
 * planned target, hotpluggable ones as the hotplug tracker sees them, else Pending), then
 * disks attached on request that the spec does not name.
 */
export function diskStatuses(vm: Pick<LauncherVm, 'disks'>, plan: Pick<QemuPlan, 'disks'>, hotplugged: readonly DiskStatus[]): DiskStatus[] {
  const byName = new Map(hotplugged.map((d) => [d.name, d]));
  const fromSpec = vm.disks.map((disk): DiskStatus => {
    const planned = plan.disks[disk.name];
    if (planned) return { name: disk.name, phase: 'Attached', target: planned.target };
    return byName.get(disk.name) ?? { name: disk.name, phase: 'Pending' };
  });
  const specNames = new Set(vm.disks.map((d) => d.name));
  return [...fromSpec, ...hotplugged.filter((d) => !specNames.has(d.name))];
}
