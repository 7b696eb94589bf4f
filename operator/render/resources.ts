/** CPU, memory, hugepage and /dev/kvm requests and limits of the launcher container. */
import type { V1ResourceRequirements } from '@kubernetes/client-node';
import type { ResolvedVm } from '../../api/resolve.js';
import type { OperatorConfig } from '../../api/schema/config.js';
import { formatBytes, formatCpu } from '../../api/quantity.js';
import { memoryOverhead } from './overhead.js';

/** True when the VM will run under TCG (software emulation): no /dev/kvm is requested. */
export function usesTcg(config: Pick<OperatorConfig, 'accelerator'>): boolean {
  return config.accelerator === 'tcg';
}

/**
 * Requests and limits:
 * - CPU request = vCPUs / cpuAllocationRatio, no CPU limit (unless dedicated);
 * - memory request = guest x 100 / memoryPercent + overhead, limit = guest + overhead;
 * - dedicated: whole CPUs and memory with requests = limits (Guaranteed QoS);
 * - hugepages: hugepages-<size> = guest memory, and memory covers the overhead only;
 * - kvm: one device of the KVM resource unless the accelerator is tcg.
 */
export function launcherResources(vm: ResolvedVm, config: OperatorConfig): V1ResourceRequirements {
  const tcg = usesTcg(config);
  const overhead = memoryOverhead(vm, tcg);
  const guest = vm.memory.guestBytes;
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (vm.memory.hugepages) {
    requests[`hugepages-${vm.memory.hugepages}`] = limits[`hugepages-${vm.memory.hugepages}`] = formatBytes(guest);
    requests.memory = limits.memory = formatBytes(overhead);
  } else {
    const overcommitted = Math.ceil((guest * 100) / vm.overcommit.memoryPercent);
    requests.memory = formatBytes(roundMiB((vm.cpu.dedicated ? guest : overcommitted) + overhead));
    limits.memory = formatBytes(roundMiB(guest + overhead));
  }
  if (vm.cpu.dedicated) {
    requests.cpu = limits.cpu = String(vm.cpu.vcpus);
  } else {
    requests.cpu = formatCpu(vm.cpu.vcpus / vm.overcommit.cpuAllocationRatio);
  }
  if (!tcg) requests[config.kvmResourceName] = limits[config.kvmResourceName] = '1';
  return { requests, limits };
}

function roundMiB(bytes: number): number {
  return Math.ceil(bytes / 2 ** 20) * 2 ** 20;
}
