/**
 * One writer per disk: a PersistentVolumeClaim that a VM opens read-write must not be open
 * read-write in another VM of the namespace that may be running, or both guests write one
 * filesystem and corrupt it. Pure: the other VMs come from the operator's cache.
 */
import { mayHoldClaims, writesClaim } from '../../api/claims.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import type { FieldProblem } from './review.js';

/** The claims a VM spec writes to. */
function claimsWritten(vm: Pick<VirtualMachine, 'spec'>): Set<string> {
  return new Set((vm.spec?.disks ?? []).flatMap((d) => writesClaim(d) ?? []));
}

/**
 * Problems for each disk of `vm` that writes to a claim another VM in `others` writes to and
 * may be running. `others` may hold any VMs: other namespaces and `vm` itself are skipped.
 * A VM that will not run (runStrategy Halted) conflicts with nothing.
 */
export function pvcConflicts(vm: VirtualMachine, others: readonly VirtualMachine[]): FieldProblem[] {
  if (vm.spec.runStrategy === 'Halted') return [];
  const ns = vm.metadata.namespace;
  const holders = new Map<string, VirtualMachine>();
  for (const other of others) {
    if (other.metadata?.namespace !== ns || other.metadata.name === vm.metadata.name || !mayHoldClaims(other)) continue;
    for (const claim of claimsWritten(other)) if (!holders.has(claim)) holders.set(claim, other);
  }
  return (vm.spec.disks ?? []).flatMap((disk, i) => {
    const claim = writesClaim(disk);
    const holder = claim === undefined ? undefined : holders.get(claim);
    if (!holder || claim === undefined) return [];
    const state = holder.status?.printableStatus ?? 'not started yet';
    return [
      {
        path: `spec.disks[${i}].persistentVolumeClaim.claimName`,
        message:
          `PersistentVolumeClaim "${claim}" is in read-write use by VirtualMachine "${holder.metadata.name}" (${state}); ` +
          `two guests writing one disk corrupt it: stop "${holder.metadata.name}" first (runStrategy: Halted) or set readOnly: true on this disk`,
      },
    ];
  });
}
