/**
 * Rules on a VirtualMachineClass beyond its schema: the class's own defaults must fit its own
 * limits (or every VM that takes them would be refused) and must describe a bootable guest;
 * sizes are bounded, and scheduling fields are what a pod accepts. Pure; the CLI and the
 * webhook apply the same rules (validateClass).
 */
import type { ClassSpec } from '../schema/class.js';
import { parseQuantity } from '../quantity.js';
import { GUEST_MEMORY_BOUNDS, vcpuCap } from './compute.js';
import type { Finding } from './context.js';
import { nodeSelectorKeys, tolerationFindings } from './scheduling.js';
import { byteQuantity } from './sizes.js';

function classVcpus(spec: ClassSpec): number {
  const cpu = spec.cpu ?? {};
  return (cpu.sockets ?? 1) * (cpu.cores ?? 1) * (cpu.threads ?? 1);
}

function cpuRules(spec: ClassSpec): Finding[] {
  const vcpus = classVcpus(spec);
  const max = spec.limits?.maxCores;
  const cap = vcpuCap(vcpus);
  if (cap.length) return cap;
  if (max !== undefined && vcpus > max) {
    return [{ path: 'spec.cpu', message: `the class's own default of ${vcpus} vCPUs exceeds its limit maxCores=${max}; lower spec.cpu or raise the limit` }];
  }
  return [];
}

function memoryRules(spec: ClassSpec): Finding[] {
  const guest = spec.memory?.guest;
  const max = spec.limits?.maxMemory;
  const badMax = max === undefined ? [] : byteQuantity(max, 'spec.limits.maxMemory', GUEST_MEMORY_BOUNDS);
  const badGuest = guest === undefined ? [] : byteQuantity(guest, 'spec.memory.guest', GUEST_MEMORY_BOUNDS);
  if (badMax.length || badGuest.length || guest === undefined || max === undefined) return [...badGuest, ...badMax];
  if (parseQuantity(guest) <= parseQuantity(max)) return [];
  return [{ path: 'spec.memory.guest', message: `the class's own default ${String(guest)} exceeds its limit maxMemory=${String(max)}; lower it or raise the limit` }];
}

/** The problems of a schema-valid class spec, in field order. */
export function classRules(spec: ClassSpec): Finding[] {
  return [...cpuRules(spec), ...memoryRules(spec), ...nodeSelectorKeys(spec.nodeSelector, 'spec.nodeSelector'), ...tolerationFindings(spec.tolerations, 'spec.tolerations')];
}
