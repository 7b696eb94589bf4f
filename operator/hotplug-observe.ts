/**
 * Reads what hotplug planning needs for one VM: its attachment pods (cache), the hotplug
 * PVCs (API), and which claims other running VMs in the namespace hold read-write (cache).
 */
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { DISK_LABEL, VM_LABEL } from '../api/layout.js';
import { parseQuantity } from '../api/quantity.js';
import type { VirtualMachine } from '../api/schema/vm.js';
import { wantedDisks } from './reconcile/hotplug.js';
import { foreignPodMessage, ownedByVm } from './reconcile/ownership.js';
import type { AttachmentState, HotplugObserved } from './reconcile/types.js';
import type { PvcInfo } from './render/volumes.js';
import type { ClusterApi } from './kube/client.js';

/** Read access to the caches the controller keeps. */
export interface HotplugSources {
  api: Pick<ClusterApi, 'getPvc'>;
  vms: { list(): VirtualMachine[] };
  pods: { list(): V1Pod[] };
}

/** A pod that ended for good despite restartPolicy Always: evicted, or failed by its node. */
function failure(pod: V1Pod): string | undefined {
  const { phase, reason, message } = pod.status ?? {};
  if (phase !== 'Failed' && phase !== 'Succeeded') return undefined;
  return [reason ?? phase, message].filter(Boolean).join(': ');
}

function attachmentState(pod: V1Pod, vm: VirtualMachine): AttachmentState {
  if (!ownedByVm(pod, vm)) return { ready: false, deleting: false, foreign: foreignPodMessage(pod, vm) };
  const ready = pod.status?.phase === 'Running' && (pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);
  const failed = failure(pod);
  return { ready, deleting: !!pod.metadata?.deletionTimestamp, ...(failed ? { failed } : {}) };
}

/** The VM's attachment pods by disk name (pure over the pod list). */
export function attachmentsOf(vm: VirtualMachine, pods: readonly V1Pod[]): Record<string, AttachmentState> {
  const ns = vm.metadata.namespace ?? 'default';
  const out: Record<string, AttachmentState> = {};
  for (const pod of pods) {
    const labels = pod.metadata?.labels ?? {};
    const disk = labels[DISK_LABEL];
    if (disk && labels[VM_LABEL] === vm.metadata.name && (pod.metadata?.namespace ?? 'default') === ns) out[disk] = attachmentState(pod, vm);
  }
  return out;
}

const HOLDING = new Set(['Attaching', 'Attached', 'Detaching']);

/** Whether `other` holds `claim` read-write now: a running VM's boot disk, or an attached hotplug disk. */
function holdsReadWrite(other: VirtualMachine, claim: string): boolean {
  const status = other.status?.printableStatus;
  if (!status || status === 'Stopped') return false;
  return (other.spec.disks ?? []).some((d) => {
    if (d.persistentVolumeClaim?.claimName !== claim || d.readOnly || d.persistentVolumeClaim.readOnly) return false;
    if (!d.hotpluggable) return true;
    return other.status?.disks?.some((s) => s.name === d.name && HOLDING.has(s.phase)) ?? false;
  });
}

/** Whether `other` runs and wants `claim` hotplugged read-write (it may not hold it yet). */
function wantsReadWrite(other: VirtualMachine, claim: string): boolean {
  const status = other.status?.printableStatus;
  return !!status && status !== 'Stopped' && wantedDisks(other).some((d) => d.claimName === claim && !d.readOnly);
}

/**
 * Claims this VM wants read-write that another VM in its namespace holds: claim -> that VM
 * (pure). Two VMs that both want a claim nobody holds yet settle it by name, the same way
 * from either side, so a stale cache cannot let both attach it.
 */
export function claimConflicts(vm: VirtualMachine, vms: readonly VirtualMachine[]): Record<string, string> {
  const ns = vm.metadata.namespace ?? 'default';
  const name = vm.metadata.name;
  const others = vms.filter((o) => (o.metadata.namespace ?? 'default') === ns && o.metadata.name !== name);
  const out: Record<string, string> = {};
  for (const disk of wantedDisks(vm).filter((d) => !d.readOnly)) {
    const mine = vm.status?.disks?.some((s) => s.name === disk.name && HOLDING.has(s.phase)) ?? false;
    const holder =
      others.find((o) => holdsReadWrite(o, disk.claimName)) ??
      (mine ? undefined : others.find((o) => o.metadata.name < name && wantsReadWrite(o, disk.claimName)));
    if (holder) out[disk.claimName] = holder.metadata.name;
  }
  return out;
}

/** A PVC's mode and size (its capacity once bound, else its request). */
export function pvcInfo(pvc: V1PersistentVolumeClaim): PvcInfo {
  const size = pvc.status?.capacity?.storage ?? pvc.spec?.resources?.requests?.storage ?? '0';
  return { mode: pvc.spec?.volumeMode === 'Block' ? 'Block' : 'Filesystem', sizeBytes: parseQuantity(size) };
}

/** Hotplug state of `vm`, or undefined when it has no hotplug disks now or before. */
export async function observeHotplug(src: HotplugSources, vm: VirtualMachine, launcherRunning: boolean): Promise<HotplugObserved | undefined> {
  const wanted = wantedDisks(vm);
  if (!wanted.length && !vm.status?.disks?.length) return undefined;
  const ns = vm.metadata.namespace ?? 'default';
  const attachments = attachmentsOf(vm, src.pods.list());
  // PVCs and claims only matter to a running launcher: a stopped VM just drops its attachments.
  if (!launcherRunning) return { attachments, pvcs: {}, conflicts: {} };
  const pvcs: HotplugObserved['pvcs'] = {};
  for (const disk of wanted) {
    const pvc = await src.api.getPvc(ns, disk.claimName);
    if (pvc) pvcs[disk.claimName] = pvcInfo(pvc);
  }
  return { attachments, pvcs, conflicts: claimConflicts(vm, src.vms.list()) };
}
