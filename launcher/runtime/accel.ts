// Which accelerator QEMU gets. The decision is pure so every combination is table-tested;
// the probe is the only I/O and is kept tiny on purpose.

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { AcceleratorError } from './errors.js';

/** What the operator config or `--accel` asks for. */
export type AcceleratorChoice = 'kvm' | 'tcg' | 'auto';
/** What QEMU is started with. */
export type Accelerator = 'kvm' | 'tcg';

/** Default KVM device node. */
export const KVM_DEVICE = '/dev/kvm';

/**
 * Pick the accelerator: `auto` means KVM when usable, else TCG; an explicit `kvm` that is not
 * usable is an error (a silent fallback would hide a 10-100x slowdown).
 */
export function decideAccelerator(choice: AcceleratorChoice, kvmUsable: boolean): Accelerator {
  if (choice === 'tcg') return 'tcg';
  if (kvmUsable) return 'kvm';
  if (choice === 'auto') return 'tcg';
  throw new AcceleratorError({
    reason: 'KvmUnavailable',
    message:
      `accelerator kvm was requested but ${KVM_DEVICE} cannot be opened read-write; ` +
      'give the launcher access to /dev/kvm (the kvm device-plugin resource) or allow tcg with accelerator: auto',
  });
}

/**
 * True when the KVM device can be opened read-write, which is what QEMU needs. Existence is
 * not enough: in a container the node may be present but denied by the device cgroup.
 */
export async function kvmUsable(device: string = KVM_DEVICE): Promise<boolean> {
  try {
    const handle = await open(device, constants.O_RDWR);
    await handle.close();
    return true;
  } catch {
    return false;
  }
}
