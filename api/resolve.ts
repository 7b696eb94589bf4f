/**
 * The effective VM: the user's spec with the class merged in (explicit VM fields win) and
 * every default applied. Renderers and the launcher read only this, so defaults live in one place.
 */
import type { LauncherVm, ResolvedDisk, ResolvedInterface, ResolvedVm } from './contract/launcher-vm.js';
import { parseQuantity } from './quantity.js';
import { diskSources } from './rules/disks.js';
import type { VirtualMachineClass } from './schema/class.js';
import type { OperatorConfig } from './schema/config.js';
import type { DiskSpec, InterfaceSpec, RunStrategy, VirtualMachine } from './schema/vm.js';

/** Defaults a user gets when a field is absent (documented in docs/api.md). */
export const DEFAULTS = {
  runStrategy: 'Always' as RunStrategy,
  cpuModel: 'host-passthrough',
  firmware: 'bios' as const,
  bus: 'virtio' as const,
  cache: 'none' as const,
  terminationGracePeriodSeconds: 60,
  devices: { rng: true, balloon: true, graphics: 'vnc' as const, guestAgent: true },
  interface: { name: 'default', model: 'virtio' as const, binding: 'masquerade' as const },
};

export type DiskSourceKind = ReturnType<typeof diskSources>[number];
export type { ResolvedDisk, ResolvedInterface, ResolvedVm, LauncherVm };

/** Boot positions: explicit bootOrder values when any disk sets one, else list order of boot candidates. */
function bootOrders(disks: readonly DiskSpec[]): (number | undefined)[] {
  if (disks.some((d) => d.bootOrder !== undefined)) return disks.map((d) => d.bootOrder);
  let next = 1;
  return disks.map((d) => (d.cloudInit || d.hotpluggable ? undefined : next++));
}

function resolveDisks(disks: readonly DiskSpec[]): ResolvedDisk[] {
  const orders = bootOrders(disks);
  return disks.map((spec, i) => {
    const source = diskSources(spec)[0] ?? 'emptyDisk';
    return {
      name: spec.name,
      bus: spec.bus ?? DEFAULTS.bus,
      bootOrder: orders[i],
      readOnly: source === 'cloudInit' || (spec.readOnly ?? spec.persistentVolumeClaim?.readOnly ?? false),
      cache: spec.cache ?? DEFAULTS.cache,
      hotpluggable: spec.hotpluggable ?? false,
      source,
      spec,
    };
  });
}

function resolveInterfaces(interfaces: readonly InterfaceSpec[] | undefined): ResolvedInterface[] {
  const list = interfaces ?? [{ name: DEFAULTS.interface.name }];
  return list.map((i) => ({
    name: i.name,
    model: i.model ?? DEFAULTS.interface.model,
    binding: i.binding ?? DEFAULTS.interface.binding,
    ports: (i.ports ?? []).map((p) => ({ ...p, protocol: p.protocol ?? 'TCP' })),
    ...(i.macAddress ? { macAddress: i.macAddress.toLowerCase() } : {}),
  }));
}

function resolveCpu(spec: VirtualMachine['spec'], c: VirtualMachineClass['spec'] | undefined): ResolvedVm['cpu'] {
  const pick = (k: 'sockets' | 'cores' | 'threads') => spec.cpu?.[k] ?? c?.cpu?.[k] ?? 1;
  const [sockets, cores, threads] = [pick('sockets'), pick('cores'), pick('threads')];
  return {
    sockets,
    cores,
    threads,
    vcpus: sockets * cores * threads,
    model: spec.cpu?.model ?? c?.cpu?.model ?? DEFAULTS.cpuModel,
    dedicated: spec.cpu?.dedicated ?? c?.cpu?.dedicated ?? false,
  };
}

function resolveOvercommit(c: VirtualMachineClass['spec'] | undefined, config: OperatorConfig): ResolvedVm['overcommit'] {
  return {
    cpuAllocationRatio: c?.overcommit?.cpuAllocationRatio ?? config.cpuAllocationRatio,
    memoryPercent: c?.overcommit?.memoryPercent ?? config.memoryOvercommitPercent,
  };
}

function resolveScheduling(spec: VirtualMachine['spec'], c: VirtualMachineClass['spec'] | undefined): ResolvedVm['scheduling'] {
  return {
    nodeSelector: { ...c?.nodeSelector, ...spec.nodeSelector },
    ...(spec.affinity ? { affinity: spec.affinity } : {}),
    tolerations: [...(c?.tolerations ?? []), ...(spec.tolerations ?? [])],
    ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName } : {}),
  };
}

function resolveIdentity({ metadata }: VirtualMachine): Pick<ResolvedVm, 'name' | 'namespace' | 'uid'> {
  return { name: metadata.name, namespace: metadata.namespace ?? 'default', ...(metadata.uid ? { uid: metadata.uid } : {}) };
}

function resolveMemory(spec: VirtualMachine['spec'], c: VirtualMachineClass['spec'] | undefined): ResolvedVm['memory'] {
  const guest = spec.memory?.guest ?? c?.memory?.guest ?? 0;
  return { guestBytes: parseQuantity(guest), hugepages: spec.memory?.hugepages ?? '' };
}

function resolveScalars(spec: VirtualMachine['spec']) {
  return {
    runStrategy: spec.runStrategy ?? DEFAULTS.runStrategy,
    firmware: spec.firmware ?? DEFAULTS.firmware,
    paused: spec.paused ?? false,
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? DEFAULTS.terminationGracePeriodSeconds,
  };
}

/**
 * Resolves a validated VM against its class and the operator configuration.
 * The VM must have passed validateVm (guest memory is then known).
 */
export function resolveVm(vm: VirtualMachine, cls: VirtualMachineClass | undefined, config: OperatorConfig): ResolvedVm {
  const { spec } = vm;
  return {
    ...resolveIdentity(vm),
    ...resolveScalars(spec),
    cpu: resolveCpu(spec, cls?.spec),
    memory: resolveMemory(spec, cls?.spec),
    overcommit: resolveOvercommit(cls?.spec, config),
    disks: resolveDisks(spec.disks ?? []),
    interfaces: resolveInterfaces(spec.interfaces),
    devices: { ...DEFAULTS.devices, ...spec.devices },
    scheduling: resolveScheduling(spec, cls?.spec),
  };
}

/** The resolved VM with the operator settings the launcher needs. */
export function launcherVm(vm: VirtualMachine, cls: VirtualMachineClass | undefined, config: OperatorConfig): LauncherVm {
  return { ...resolveVm(vm, cls, config), accelerator: config.accelerator, hotplugPorts: config.hotplugPorts };
}
