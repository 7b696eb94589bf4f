// Test VMs: a VirtualMachine manifest validated with the real schema and rules, then resolved
// exactly as the operator would for the launcher (accelerator tcg: never kvm in these tests).

import type { LauncherVm } from '../../../api/resolve.js';
import { launcherVm } from '../../../api/resolve.js';
import { DEFAULT_CONFIG } from '../../../api/schema/config.js';
import type { VirtualMachine } from '../../../api/schema/vm.js';
import { validateVm } from '../../../api/validate.js';

/** A validated, resolved VM for the launcher; throws with the issues when the spec is invalid. */
export function testVm(name: string, spec: VirtualMachine['spec']): LauncherVm {
  const manifest = { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'test' }, spec };
  const { value, issues } = validateVm(manifest);
  if (!value) throw new Error(`invalid test VM ${name}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return launcherVm(value, undefined, { ...DEFAULT_CONFIG, accelerator: 'tcg', hotplugPorts: 2 });
}

/** The fixture guest's boot disk: read-only, first in boot order. */
export const GUEST_ROOT_DISK = { name: 'root', readOnly: true, persistentVolumeClaim: { claimName: 'root' } } as const;

/** A small guest: fast to boot under TCG. No VNC, no NIC-less surprises. */
export function smallSpec(extra: Partial<VirtualMachine['spec']> = {}): VirtualMachine['spec'] {
  return {
    cpu: { cores: 2 },
    memory: { guest: '192Mi' },
    devices: { graphics: 'none', balloon: false, rng: false, guestAgent: false },
    interfaces: [],
    terminationGracePeriodSeconds: 30,
    ...extra,
  };
}
