// The chipset and the accelerator: q35 (PCIe, AHCI built in) with options that keep the guest
// from entering states the launcher cannot see or undo.
import { TCG_TB_SIZE_MIB } from '../../api/sizes.js';
import { qemuOpts } from './qemu-opts.js';
import type { Fragment } from './fragment.js';

export { TCG_TB_SIZE_MIB } from '../../api/sizes.js';

/** What other builders ask of the machine. */
export interface MachineOptions {
  /** Id of a memory backend object that provides guest RAM (hugepages). */
  memoryBackend?: string;
  /** Block node names of the EFI code and variables flash. */
  pflash?: { code: string; vars: string };
}

/** `-machine q35,...` plus chipset globals, boot and clock policy. */
export function machineFragment(options: MachineOptions = {}): Fragment {
  const machine = qemuOpts('q35', {
    usb: false,
    // The VMware backdoor port is an attack surface nobody here needs.
    vmport: false,
    // A QEMU crash must not write guest memory (secrets, tenants' data) into a core file.
    'dump-guest-core': false,
    'memory-backend': options.memoryBackend,
    pflash0: options.pflash?.code,
    pflash1: options.pflash?.vars,
  });
  return {
    args: [
      '-machine',
      machine,
      // A guest in S3/S4 looks running but does nothing, and no one can wake it: disable both.
      '-global',
      'ICH9-LPC.disable_s3=1',
      '-global',
      'ICH9-LPC.disable_s4=1',
      // Boot only from devices with a bootindex: no surprise PXE or fall-through to data disks.
      '-boot',
      'strict=on',
      '-rtc',
      'base=utc',
    ],
  };
}

/** `-accel`: KVM, or TCG with a bounded translation cache and one host thread per vCPU. */
export function accelFragment(accel: 'kvm' | 'tcg'): Fragment {
  if (accel === 'kvm') return { args: ['-accel', 'kvm'] };
  return { args: ['-accel', qemuOpts('tcg', { 'tb-size': TCG_TB_SIZE_MIB, thread: 'multi' })] };
}
