// What the control API of a running launcher serves besides the VM operations: the VM's
// numbers (/metrics, /vm-metrics) and the streams (/console, /vnc, /portforward; ADR 0011),
// all reached through the supervisor that runs QEMU. One place, so `launcher run` in a pod and
// the system tests wire them the same way.

import type { LauncherVm } from '../api/contract/launcher-vm.js';
import type { ControlServerOptions } from './control/index.js';
import { vmMetrics } from './metrics/index.js';
import { netdevId } from './qemu/index.js';
import { PortForwarder } from './runtime/portforward.js';
import type { VmSupervisor } from './runtime/vmm.js';

/** The parts of the control server's options that come from the running VM. */
export type ControlSources = Pick<ControlServerOptions, 'metrics' | 'console' | 'vnc' | 'portForward'>;

/** The metrics and streams of the VM `vmm` runs. Port-forward uses the first interface. */
export function controlSources(vmm: VmSupervisor, vm: LauncherVm, log?: (line: string) => void): ControlSources {
  const first = vm.interfaces[0];
  return {
    metrics: vmMetrics(vmm, vm),
    console: () => vmm.console,
    vnc: { socket: vmm.vncSocket, running: () => vmm.monitor !== undefined },
    portForward: new PortForwarder({ qmp: () => vmm.monitor, state: () => vmm.status().state, netdev: first ? netdevId(first) : undefined, ...(log ? { log } : {}) }),
  };
}
