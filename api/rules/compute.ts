/** Rules on CPU and memory, including the limits of the VM's class. */
import { formatBytes, isQuantity, parseQuantity } from '../quantity.js';
import { MAX_GUEST_MEMORY_BYTES } from '../sizes.js';
import type { Finding, Rule, RuleContext } from './context.js';
import { byteQuantity } from './sizes.js';

/** The smallest guest that boots a kernel. */
export const MIN_GUEST_MEMORY = 16 * 1024 ** 2;

/** The bounds of guest memory, wherever it is given (VM, class default, class limit). */
export const GUEST_MEMORY_BOUNDS = { min: MIN_GUEST_MEMORY, max: MAX_GUEST_MEMORY_BYTES, example: '2Gi' };
/** The most vCPUs QEMU's q35 machine takes here. */
export const MAX_VCPUS = 512;

/** vCPUs = sockets x cores x threads, with VM fields winning over the class's. */
export function effectiveVcpus({ spec, classSpec }: Pick<RuleContext, 'spec' | 'classSpec'>): number {
  const pick = (k: 'sockets' | 'cores' | 'threads') => spec.cpu?.[k] ?? classSpec?.cpu?.[k] ?? 1;
  return pick('sockets') * pick('cores') * pick('threads');
}

/** The guest memory quantity in force (VM first, then class), or undefined. */
export function effectiveGuestMemory({ spec, classSpec }: Pick<RuleContext, 'spec' | 'classSpec'>) {
  return spec.memory?.guest ?? classSpec?.memory?.guest;
}

export const guestMemory: Rule = (ctx) => {
  const path = 'spec.memory.guest';
  const guest = effectiveGuestMemory(ctx);
  if (guest === undefined) {
    if (!ctx.classKnown) return [];
    const why = ctx.spec.className ? `class "${ctx.spec.className}" does not set memory.guest` : 'no className gives it';
    return [{ path, message: `is required (${why}); set a size such as 2Gi` }];
  }
  const bad = byteQuantity(guest, path, GUEST_MEMORY_BOUNDS);
  return bad.length ? bad : hugepageMultiple(ctx, parseQuantity(guest));
};

function hugepageMultiple({ spec }: RuleContext, bytes: number): Finding[] {
  const size = spec.memory?.hugepages;
  if (!size) return [];
  const page = parseQuantity(size);
  if (bytes % page === 0) return [];
  const up = Math.ceil(bytes / page) * page;
  return [{ path: 'spec.memory.guest', message: `must be a multiple of the hugepage size ${size}; use ${formatBytes(up)}` }];
}

/** The vCPU ceiling of a VM or a class: a finding on spec.cpu when `vcpus` is past it. */
export function vcpuCap(vcpus: number): Finding[] {
  if (vcpus <= MAX_VCPUS) return [];
  return [{ path: 'spec.cpu', message: `sockets x cores x threads = ${vcpus}; at most ${MAX_VCPUS} vCPUs are supported` }];
}

export const vcpuCount: Rule = (ctx) => vcpuCap(effectiveVcpus(ctx));

function overMemory(ctx: RuleContext, max: string | number, name: string): Finding[] {
  const guest = effectiveGuestMemory(ctx);
  if (guest === undefined || !isQuantity(guest) || parseQuantity(guest) <= parseQuantity(max)) return [];
  return [{ path: 'spec.memory.guest', message: `${String(guest)} exceeds class "${name}" limit maxMemory=${String(max)}` }];
}

export const classLimits: Rule = (ctx) => {
  const limits = ctx.classSpec?.limits;
  if (!limits) return [];
  const name = ctx.spec.className ?? '';
  const out: Finding[] = [];
  const vcpus = effectiveVcpus(ctx);
  if (limits.maxCores !== undefined && vcpus > limits.maxCores) {
    out.push({ path: 'spec.cpu', message: `${vcpus} vCPUs exceed class "${name}" limit maxCores=${limits.maxCores}` });
  }
  if (limits.maxMemory !== undefined) out.push(...overMemory(ctx, limits.maxMemory, name));
  const disks = ctx.spec.disks?.length ?? 0;
  if (limits.maxDisks !== undefined && disks > limits.maxDisks) {
    out.push({ path: 'spec.disks', message: `${disks} disks exceed class "${name}" limit maxDisks=${limits.maxDisks}` });
  }
  return out;
};

/** Every rule on CPU and memory. */
export const computeRules: Rule[] = [guestMemory, vcpuCount, classLimits];
