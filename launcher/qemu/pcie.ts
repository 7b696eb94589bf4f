// PCIe topology. On q35 only devices behind a pcie-root-port can be hot(un)plugged, and each
// port takes exactly one device, so every PCI device gets a port of its own. Occupied ports
// are built with hotplug=off: QEMU then refuses device_del on them, so a bug or a stray QMP
// command can never pull the boot disk out from under a running guest. Spare ports with
// hotplug on are added last for disk hotplug.
import { LauncherInputError, UnsupportedSpecError } from './errors.js';
import { device } from './qemu-opts.js';

/** A pcie-root-port to create. */
export interface RootPort {
  id: string;
  hotplug: boolean;
}

/** Ports are packed 8 functions per slot of pcie.0 (as libvirt does) so ~230 fit. */
const FUNCTIONS_PER_SLOT = 8;
/** Slot 0 is the host bridge, slot 1 is kept for VGA, slot 0x1f is the ICH9 LPC/AHCI/SMBus. */
const FIRST_SLOT = 0x2;
const LAST_SLOT = 0x1e;
/** PCIe port numbers start above the built-in ones, like libvirt's. */
const FIRST_PORT_NUMBER = 0x10;

/** How many root ports fit on pcie.0. */
export const MAX_ROOT_PORTS = (LAST_SLOT - FIRST_SLOT + 1) * FUNCTIONS_PER_SLOT;

/** Id of the port that carries one device, e.g. `port-disk-root`, `port-rng`. */
export function rootPortId(kind: string, name?: string): string {
  return name === undefined ? `port-${kind}` : `port-${kind}-${name}`;
}

/** Ids of the spare hotplug ports: hotplug0..hotplug(count-1). */
export function sparePortIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `hotplug${i}`);
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function rootPortArgs(port: RootPort, index: number): string[] {
  const slot = FIRST_SLOT + Math.floor(index / FUNCTIONS_PER_SLOT);
  const fn = index % FUNCTIONS_PER_SLOT;
  return device('pcie-root-port', {
    id: port.id,
    bus: 'pcie.0',
    addr: `${hex(slot)}.${hex(fn)}`,
    // Function 0 must announce the other functions of its slot.
    multifunction: fn === 0 ? true : undefined,
    // (chassis, slot) must be unique per port; one chassis per port keeps that trivial.
    chassis: index + 1,
    port: hex(FIRST_PORT_NUMBER + index),
    hotplug: port.hotplug,
    // Hotplugged virtio devices on PCIe are modern-only and need no I/O ports; reserving 4 KiB
    // of the 64 KiB I/O space per spare port would exhaust it after ~14 ports and firmware
    // would then fail to set up the bus.
    'io-reserve': port.hotplug ? 0 : undefined,
  });
}

/**
 * `-device pcie-root-port` for each occupied port (hotplug off, in the order given, which
 * fixes the guest's PCI bus numbers) and then `spare` hotplug ports.
 */
export function pcieTopology(occupied: readonly string[], spare: number): { args: string[]; sparePorts: string[] } {
  const sparePorts = sparePortIds(spare);
  const ports: RootPort[] = [
    ...occupied.map((id) => ({ id, hotplug: false })),
    ...sparePorts.map((id) => ({ id, hotplug: true })),
  ];
  if (ports.length > MAX_ROOT_PORTS) {
    throw new UnsupportedSpecError(`the VM needs ${ports.length} PCIe root ports, at most ${MAX_ROOT_PORTS} fit on q35`);
  }
  const duplicate = ports.find((p, i) => ports.findIndex((q) => q.id === p.id) !== i);
  if (duplicate) throw new LauncherInputError(`PCIe root port ${duplicate.id} is requested twice`);
  return { args: ports.flatMap(rootPortArgs), sparePorts };
}
