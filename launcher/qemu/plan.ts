// Composition only: each device family builds its own fragment; this file orders them.
import { cpuFragment } from './cpu.js';
import { devicesFragment } from './devices.js';
import { diskFragment } from './disks.js';
import { firmwareFragment } from './firmware.js';
import { accelFragment, machineFragment } from './machine.js';
import { memoryFragment } from './memory.js';
import { networkFragment } from './network.js';
import { pcieTopology } from './pcie.js';
import { baseFragment } from './base.js';
import { consoleFragment } from './console.js';
import { runtimeSockets } from './sockets.js';
import type { QemuInput, QemuPlan } from './types.js';

/**
 * QEMU's command line for a VM, and the names the launcher needs to drive it. Pure: the same
 * input always gives the same plan. Throws UnsupportedSpecError for what this launcher cannot
 * run and LauncherInputError for inputs the launcher failed to provide.
 */
export function planQemu(input: QemuInput): QemuPlan {
  const { vm, accel } = input;
  const sockets = runtimeSockets(input.runtimeDir, vm.devices);
  const memory = memoryFragment(vm.memory);
  const firmware = firmwareFragment(vm.firmware, input.firmware);
  const disks = diskFragment({ vm, backings: input.disks });
  // This order fixes the guest's PCI bus numbers. NICs go first so their predictable names
  // (enp1s0, ...) do not move when disks are added or removed.
  const devices = [
    networkFragment({ vm, hostPorts: input.hostPorts }),
    disks,
    devicesFragment(vm.devices),
    consoleFragment(vm.devices, sockets),
  ];
  const topology = pcieTopology(devices.flatMap((f) => f.ports ?? []), vm.hotplugPorts);
  const argv = [
    ...baseFragment(vm, sockets.qmp).args,
    ...machineFragment({ memoryBackend: memory.backend, pflash: firmware.pflash }).args,
    ...accelFragment(accel).args,
    ...cpuFragment(vm.cpu, accel).args,
    ...memory.args,
    ...firmware.args,
    ...topology.args,
    ...devices.flatMap((f) => f.args),
  ];
  return {
    argv,
    disks: disks.disks,
    sparePorts: topology.sparePorts,
    ...(disks.scsiBus ? { scsiBus: disks.scsiBus } : {}),
    sockets,
  };
}
