/**
 * One read-write user per PersistentVolumeClaim, enforced by the operator before it starts a
 * launcher (the webhook's check runs on each replica's cache and can race; this one runs in
 * the single leader). A claim is held by another VM whose launcher or attachment pod mounts
 * it read-write (the pod cache: what really runs), or, when no pod has it yet, by the
 * contender that comes first: a VM in the middle of a run (restarting, crash-looping) before
 * one that has not run, then the name that sorts first. Either side gets the same answer, so
 * two VMs created at the same moment cannot both start on one claim. Pure over the caches.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { VM_LABEL } from '../../api/layout.js';
import { mayHoldClaims, writesClaim } from '../../api/claims.js';
import type { VirtualMachine } from '../../api/schema/vm.js';

/** A claim this VM cannot open read-write now, and the VM that has it. */
export interface ClaimConflict {
  claim: string;
  holder: string;
  /** Whether the holder runs on it already, or only comes first in line. */
  running: boolean;
}

/** The claims the launcher of `vm` would open read-write (hotplug disks have their own check). */
export function bootClaims(vm: VirtualMachine): string[] {
  return (vm.spec.disks ?? []).flatMap((d) => (d.hotpluggable ? [] : (writesClaim(d) ?? [])));
}

const ns = (o: { metadata?: { namespace?: string } }) => o.metadata?.namespace ?? 'default';

/** VM name -> claims its live pods mount read-write. */
function claimsInUse(pods: readonly V1Pod[], namespace: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const pod of pods) {
    const owner = pod.metadata?.labels?.[VM_LABEL];
    const phase = pod.status?.phase;
    if (!owner || ns(pod) !== namespace || phase === 'Succeeded' || phase === 'Failed') continue;
    for (const v of pod.spec?.volumes ?? []) {
      const pvc = v.persistentVolumeClaim;
      if (pvc && !pvc.readOnly && !users.has(pvc.claimName)) users.set(pvc.claimName, owner);
    }
  }
  return users;
}

/** Whether `other` is in line for a start that would open `claim` read-write. */
function contends(other: VirtualMachine, claim: string): boolean {
  if (other.metadata.deletionTimestamp || other.spec.runStrategy === 'Halted') return false;
  if (!mayHoldClaims(other) || other.status?.printableStatus === 'ErrorPvcInUse') return false;
  return (other.spec.disks ?? []).some((d) => writesClaim(d) === claim);
}

/** In the middle of a run: started, and not stopped since (a restart keeps its disks). */
function inARun(vm: VirtualMachine): boolean {
  return !!vm.status?.startedAt && mayHoldClaims(vm) && vm.status.printableStatus !== 'ErrorPvcInUse';
}

/** Whether `a` comes before `b` in line for a claim. */
function before(a: VirtualMachine, b: VirtualMachine): boolean {
  if (inARun(a) !== inARun(b)) return inARun(a);
  return a.metadata.name < b.metadata.name;
}

/** The claims `vm` may not open read-write now (empty: it may start). */
export function claimConflicts(vm: VirtualMachine, vms: readonly VirtualMachine[], pods: readonly V1Pod[]): ClaimConflict[] {
  const namespace = ns(vm);
  const inUse = claimsInUse(pods, namespace);
  const others = vms.filter((o) => ns(o) === namespace && o.metadata.name !== vm.metadata.name);
  return bootClaims(vm).flatMap((claim): ClaimConflict[] => {
    const user = inUse.get(claim);
    if (user === vm.metadata.name) return [];
    if (user) return [{ claim, holder: user, running: true }];
    const first = others.filter((o) => before(o, vm) && contends(o, claim)).sort((a, b) => (before(a, b) ? -1 : 1))[0];
    return first ? [{ claim, holder: first.metadata.name, running: false }] : [];
  });
}

/** The sentence for ErrorPvcInUse. */
export function conflictMessage(conflicts: readonly ClaimConflict[]): string {
  return conflicts
    .map((c) =>
      c.running
        ? `PersistentVolumeClaim ${c.claim} is in read-write use by VirtualMachine ${c.holder}; stop it (runStrategy: Halted) or set readOnly: true on both`
        : `PersistentVolumeClaim ${c.claim} goes to VirtualMachine ${c.holder} first (both want it read-write; the name that sorts first starts); stop ${c.holder} or set readOnly: true on both`,
    )
    .join('; ');
}
