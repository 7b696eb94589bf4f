/**
 * Rules on a VirtualMachineClass beyond its schema: the class's own defaults must fit its own
 * limits (or every VM that takes them would be refused) and must describe a bootable guest.
 * Pure.
 */
import { isQuantity, parseQuantity } from '../../api/quantity.js';
import { MIN_GUEST_MEMORY } from '../../api/rules/compute.js';
import type { ClassSpec } from '../../api/schema/class.js';
import type { FieldProblem } from './review.js';

const MAX_VCPUS = 512;

function classVcpus(spec: ClassSpec): number {
  const cpu = spec.cpu ?? {};
  return (cpu.sockets ?? 1) * (cpu.cores ?? 1) * (cpu.threads ?? 1);
}

function cpuRules(spec: ClassSpec): FieldProblem[] {
  const vcpus = classVcpus(spec);
  const max = spec.limits?.maxCores;
  if (vcpus > MAX_VCPUS) return [{ path: 'spec.cpu', message: `sockets x cores x threads = ${vcpus}; at most ${MAX_VCPUS} vCPUs are supported` }];
  if (max !== undefined && vcpus > max) {
    return [{ path: 'spec.cpu', message: `the class's own default of ${vcpus} vCPUs exceeds its limit maxCores=${max}; lower spec.cpu or raise the limit` }];
  }
  return [];
}

function memoryRules(spec: ClassSpec): FieldProblem[] {
  const out: FieldProblem[] = [];
  const guest = spec.memory?.guest;
  const max = spec.limits?.maxMemory;
  if (max !== undefined && isQuantity(max) && parseQuantity(max) < MIN_GUEST_MEMORY) {
    out.push({ path: 'spec.limits.maxMemory', message: `must be at least 16Mi (the smallest bootable guest); got ${String(max)}` });
  }
  if (guest === undefined || !isQuantity(guest)) return out;
  if (parseQuantity(guest) < MIN_GUEST_MEMORY) out.push({ path: 'spec.memory.guest', message: `must be at least 16Mi; got ${String(guest)}` });
  else if (max !== undefined && isQuantity(max) && parseQuantity(guest) > parseQuantity(max)) {
    out.push({ path: 'spec.memory.guest', message: `the class's own default ${String(guest)} exceeds its limit maxMemory=${String(max)}; lower it or raise the limit` });
  }
  return out;
}

/** The problems of a schema-valid class spec, in field order. */
export function classRules(spec: ClassSpec): FieldProblem[] {
  return [...cpuRules(spec), ...memoryRules(spec)];
}
