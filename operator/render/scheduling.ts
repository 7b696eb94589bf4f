/** Where the launcher may run: node selector, affinity, tolerations and priority from VM and class. */
import type { V1PodSpec } from '@kubernetes/client-node';
import type { ResolvedVm } from '../../api/resolve.js';

/** Margin beyond the guest's grace period so QEMU can flush and quit after the guest stops. */
export const GRACE_MARGIN_SECONDS = 15;

/** The scheduling fields of the launcher PodSpec. */
export function scheduling(vm: ResolvedVm): Pick<V1PodSpec, 'nodeSelector' | 'affinity' | 'tolerations' | 'priorityClassName' | 'terminationGracePeriodSeconds'> {
  const { nodeSelector, affinity, tolerations, priorityClassName } = vm.scheduling;
  return {
    ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
    ...(affinity ? { affinity } : {}),
    ...(tolerations.length ? { tolerations } : {}),
    ...(priorityClassName ? { priorityClassName } : {}),
    terminationGracePeriodSeconds: vm.terminationGracePeriodSeconds + GRACE_MARGIN_SECONDS,
  };
}
