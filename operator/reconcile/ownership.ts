/**
 * Whether a pod is one the operator made for this VM: its controller owner reference names
 * the VM's UID. Name and label alone are not proof: anyone who may create pods in the
 * namespace can choose them, and a pod of an earlier VM of the same name has them too. Pure.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { API_VERSION } from '../../api/schema/common.js';
import type { VirtualMachine } from '../../api/schema/vm.js';

/** True when `pod` is controlled by `vm` (same UID). */
export function ownedByVm(pod: V1Pod, vm: VirtualMachine): boolean {
  const uid = vm.metadata.uid;
  return !!uid && (pod.metadata?.ownerReferences ?? []).some((r) => r.controller === true && r.kind === 'VirtualMachine' && r.apiVersion === API_VERSION && r.uid === uid);
}

/** Why kubevmm leaves a pod alone that has the name it wants: for status messages. */
export function foreignPodMessage(pod: V1Pod, vm: VirtualMachine): string {
  const name = `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;
  const controller = (pod.metadata?.ownerReferences ?? []).find((r) => r.controller);
  if (controller?.kind === 'VirtualMachine' && controller.name === vm.metadata.name) {
    return `pod ${name} belongs to an earlier VirtualMachine ${vm.metadata.name} (UID ${controller.uid}); waiting for it to be deleted`;
  }
  return `pod ${name} exists but kubevmm did not create it for this VirtualMachine (no owner reference to UID ${vm.metadata.uid ?? '?'}); kubevmm will not start, use or delete it, nor give it credentials: delete or rename that pod`;
}
