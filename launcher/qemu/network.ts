// Network interfaces. Only masquerade works in an unprivileged pod: QEMU's user-mode stack
// (slirp) NATs the guest behind the pod's address and forwards listed ports into it.
import { createHash } from 'node:crypto';
import type { LauncherVm, ResolvedInterface } from '../../api/resolve.js';
import { UnsupportedSpecError } from './errors.js';
import { rootPortId } from './pcie.js';
import { device, qemuOpts } from './qemu-opts.js';
import { mergeFragments } from './fragment.js';
import type { Fragment } from './fragment.js';

/** QEMU/KVM's locally administered OUI; the rest of a derived MAC comes from a hash. */
export const MAC_PREFIX = '52:54:00';

const NIC_DRIVER = { virtio: 'virtio-net-pci', e1000e: 'e1000e' } as const;

/**
 * The interface's MAC: the one in the spec, else derived from the VM's identity (uid when
 * known, else namespace/name) and the interface name, so it survives restarts and the
 * guest's DHCP lease and udev names stay put.
 */
export function macAddress(vm: Pick<LauncherVm, 'name' | 'namespace' | 'uid'>, iface: Pick<ResolvedInterface, 'name' | 'macAddress'>): string {
  if (iface.macAddress) return iface.macAddress.toLowerCase();
  const identity = vm.uid ?? `${vm.namespace}/${vm.name}`;
  const digest = createHash('sha256').update(`${identity}/${iface.name}`).digest();
  const tail = [...digest.subarray(0, 3)].map((b) => b.toString(16).padStart(2, '0'));
  return [MAC_PREFIX, ...tail].join(':');
}

/** `hostfwd=` rules: host port (from hostPorts, default the same) -> guest port. */
export function hostForwards(iface: Pick<ResolvedInterface, 'ports'>, hostPorts: Readonly<Record<string, number>> = {}): string[] {
  return iface.ports.map(({ port, protocol }) => {
    const hostPort = hostPorts[`${protocol}/${port}`] ?? port;
    return `${protocol.toLowerCase()}::${hostPort}-:${port}`;
  });
}

/** QEMU's id of the interface's user-mode netdev; port-forward sessions add their forwards to it. */
export function netdevId(iface: Pick<ResolvedInterface, 'name'>): string {
  return `net-${iface.name}`;
}

/** What {@link networkFragment} needs. */
export interface NetworkInput {
  vm: Pick<LauncherVm, 'name' | 'namespace' | 'uid' | 'interfaces'>;
  hostPorts?: Readonly<Record<string, number>>;
}

function interfaceArgs(input: NetworkInput, iface: ResolvedInterface): Fragment {
  if (iface.binding === 'bridge') {
    throw new UnsupportedSpecError(
      `interface ${iface.name}: binding bridge needs a tap device and CAP_NET_ADMIN, which the unprivileged launcher pod does not have; use binding masquerade`,
    );
  }
  const netdev = netdevId(iface);
  const port = rootPortId('net', iface.name);
  return {
    args: [
      '-netdev',
      qemuOpts('user', { id: netdev, hostfwd: hostForwards(iface, input.hostPorts) }),
      ...device(NIC_DRIVER[iface.model], {
        id: `nic-${iface.name}`,
        bus: port,
        netdev,
        mac: macAddress(input.vm, iface),
        // The API has no network boot: skipping the iPXE option ROM saves guest memory and a
        // dependency on the ROM files in the launcher image.
        romfile: '',
      }),
    ],
    ports: [port],
  };
}

/** One netdev + NIC per interface, each NIC on its own root port. */
export function networkFragment(input: NetworkInput): Fragment {
  const parts = input.vm.interfaces.map((iface) => interfaceArgs(input, iface));
  return mergeFragments(parts);
}
