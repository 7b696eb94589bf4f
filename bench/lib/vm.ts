// The VMs the benchmarks run: validated with the real schema and resolved exactly as
// `kubevmm play` does (operator defaults, accelerator tcg: never kvm on these machines).

import type { LauncherVm } from '../../api/resolve.js';
import { launcherVm } from '../../api/resolve.js';
import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { validateVm } from '../../api/validate.js';

/** What varies between benchmark VMs. */
export interface VmShape {
  vcpus: number;
  /** Guest memory as a quantity, e.g. `128Mi`. */
  memory: string;
  graphics: 'vnc' | 'none';
}

/**
 * The fixture guest's user data: a safety net that powers a forgotten guest off, far later
 * than any benchmark waits for it.
 */
const USER_DATA = '#cloud-config\n#kubevmm: poweroff-after=600\n';

/** `2 vCPU 256Mi vnc`. */
export function shapeLabel(shape: VmShape): string {
  return `${shape.vcpus} vCPU ${shape.memory} ${shape.graphics === 'vnc' ? 'vnc' : 'no graphics'}`;
}

/** The VirtualMachine spec: the fixture as a read-only root disk, cloud-init, one NIC, default devices. */
export function benchSpec(shape: VmShape): VirtualMachine['spec'] {
  return {
    cpu: { cores: shape.vcpus },
    memory: { guest: shape.memory },
    devices: { graphics: shape.graphics },
    disks: [
      { name: 'root', readOnly: true, persistentVolumeClaim: { claimName: 'root' } },
      { name: 'cloudinit', cloudInit: { userData: USER_DATA } },
    ],
    terminationGracePeriodSeconds: 10,
  };
}

/** The resolved VM the launcher is given; throws with the issues when the spec is invalid. */
export function benchVm(name: string, shape: VmShape): LauncherVm {
  const manifest = { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'bench' }, spec: benchSpec(shape) };
  const { value, issues } = validateVm(manifest);
  if (!value) throw new Error(`invalid bench VM ${name}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return launcherVm(value, undefined, { ...DEFAULT_CONFIG, accelerator: 'tcg' });
}
