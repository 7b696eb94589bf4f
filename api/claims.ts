/**
 * Facts about a VM's PersistentVolumeClaims that the webhook and the operator both decide
 * "one read-write user per claim" on (operator/webhook/pvc.ts, operator/reconcile/claims.ts).
 */
import type { DiskSpec, VirtualMachine } from './schema/vm.js';

/**
 * The claim the operator creates for an `image` disk: `<vm>-<disk>`. Deterministic, so an
 * operator restart finds the claim it made instead of making another.
 */
export function vmImageDiskClaim(vm: string, disk: string): string {
  return `${vm}-${disk}`;
}

/** The claim a disk opens read-write: neither the disk nor its claim is read-only. */
export function writesClaim(disk: DiskSpec): string | undefined {
  const pvc = disk.persistentVolumeClaim;
  return pvc && !disk.readOnly && !pvc.readOnly ? pvc.claimName : undefined;
}

/**
 * Whether the VM may hold its disks open: anything but Stopped (a VM without a status yet is
 * about to start), and Stopped under runStrategy Always too: that is a restart in progress,
 * and the VM holds its disks through it.
 */
export function mayHoldClaims(vm: Pick<VirtualMachine, 'spec' | 'status'>): boolean {
  return vm.status?.printableStatus !== 'Stopped' || (vm.spec.runStrategy ?? 'Always') === 'Always';
}
