/**
 * Memory the launcher pod needs beyond guest RAM. The constants were calibrated against the
 * RSS measured by bench/overhead (see docs/design.md, "Per-VM overhead"); change them together.
 */
import type { ResolvedVm } from '../../api/resolve.js';
import { TCG_TB_SIZE_MIB, VGA_MEMORY_MIB } from '../../api/sizes.js';

const MiB = 2 ** 20;

/** The formula's terms, exported so docs and tests can show them. */
export const OVERHEAD = {
  /** The launcher's Node.js process, run from a bundle (measured 50-57 MiB at guest ready). */
  launcher: 64 * MiB,
  /** QEMU's binary, libraries, heap and non-guest RAM blocks (measured about 45 MiB). */
  qemu: 48 * MiB,
  /** Per vCPU: thread stack, KVM/TCG vCPU state. */
  perVcpu: 2 * MiB,
  /** Guest page tables and QEMU's dirty/RAM bookkeeping: guest memory / 512. */
  pageTableDivisor: 512,
  /** VGA video memory when graphics is vnc. */
  video: VGA_MEMORY_MIB * MiB,
  /** TCG translation cache (QEMU is started with tb-size=TCG_TB_SIZE_MIB). */
  tcg: TCG_TB_SIZE_MIB * MiB,
} as const;

/** Memory overhead in bytes for one VM, rounded up to a whole MiB. */
export function memoryOverhead(vm: Pick<ResolvedVm, 'cpu' | 'memory' | 'devices'>, tcg: boolean): number {
  const bytes =
    OVERHEAD.launcher +
    OVERHEAD.qemu +
    OVERHEAD.perVcpu * vm.cpu.vcpus +
    vm.memory.guestBytes / OVERHEAD.pageTableDivisor +
    (vm.devices.graphics === 'vnc' ? OVERHEAD.video : 0) +
    (tcg ? OVERHEAD.tcg : 0);
  return Math.ceil(bytes / MiB) * MiB;
}
