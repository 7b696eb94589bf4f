// vCPU model and topology.
import type { LauncherVm } from '../../api/resolve.js';
import { qemuOpts } from './qemu-opts.js';
import type { Fragment } from './fragment.js';

/**
 * QEMU model for an API model name. `host` exists only under KVM; TCG's closest equivalent
 * is `max` (every feature TCG can emulate). QEMU has no separate host-model, so both map alike.
 */
export function cpuModel(model: string, accel: 'kvm' | 'tcg'): string {
  if (model === 'host-passthrough' || model === 'host-model') return accel === 'kvm' ? 'host' : 'max';
  return model;
}

/** `-cpu MODEL -smp N,sockets=,cores=,threads=`. */
export function cpuFragment(cpu: LauncherVm['cpu'], accel: 'kvm' | 'tcg'): Fragment {
  return {
    args: [
      '-cpu',
      qemuOpts(cpuModel(cpu.model, accel)),
      '-smp',
      qemuOpts(String(cpu.vcpus), { sockets: cpu.sockets, cores: cpu.cores, threads: cpu.threads }),
    ],
  };
}
