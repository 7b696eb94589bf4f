// The ways in and out of the guest besides the network: serial console, VNC, guest agent.
import { VGA_MEMORY_MIB } from '../../api/sizes.js';
import type { LauncherVm } from '../../api/resolve.js';
import { rootPortId } from './pcie.js';
import { device, qemuOpts } from './qemu-opts.js';
import { mergeFragments } from './fragment.js';
import type { Fragment } from './fragment.js';
import type { QemuPlan } from './types.js';

/** Name of the guest agent's virtio-serial port, the one qemu-guest-agent looks for. */
export const GUEST_AGENT_PORT_NAME = 'org.qemu.guest_agent.0';
export { VGA_MEMORY_MIB } from '../../api/sizes.js';

/** A unix socket chardev that QEMU listens on without waiting for a client. */
function socketChardev(id: string, path: string, extra: Record<string, string | boolean> = {}): string[] {
  return ['-chardev', qemuOpts('socket', { id, path, server: true, wait: false, ...extra })];
}

/**
 * COM1 on a socket. Its one client is the launcher, which keeps the console log and serves
 * console sessions (launcher/runtime/serial.ts); QEMU's own logfile would grow without bound.
 */
export function serialFragment(sockets: Pick<QemuPlan['sockets'], 'serial'>): Fragment {
  return {
    args: [
      ...socketChardev('serial0', sockets.serial),
      ...device('isa-serial', { id: 'console', chardev: 'serial0' }),
    ],
  };
}

/**
 * VNC on a unix socket (the launcher proxies it; no TCP port to secure) and a VGA card. VGA
 * sits on pcie.0 slot 1, where legacy VGA ranges route without a bridge and where libvirt
 * puts it; a video card is never hotplugged, so it needs no root port.
 *
 * `share=ignore`: every viewer is served, whatever its ClientInit shared flag says. QEMU's
 * default (`allow-exclusive`) disconnects every other viewer when one asks for exclusive
 * access, which many viewers do unless told `-shared` (TigerVNC's default): opening the CLI's
 * viewer would close the web console. `force-shared` drops the viewer that asks instead, so a
 * plain `vncviewer` could not connect at all. Viewers share one screen, keyboard and mouse.
 */
export function vncFragment(socket: string): Fragment {
  return {
    args: ['-vnc', qemuOpts(`unix:${socket}`, { share: 'ignore' }), ...device('VGA', { id: 'video0', bus: 'pcie.0', addr: '0x1', vgamem_mb: VGA_MEMORY_MIB })],
  };
}

/** virtio-serial controller with the port qemu-guest-agent opens, bridged to a unix socket. */
export function guestAgentFragment(socket: string): Fragment {
  const port = rootPortId('serial');
  return {
    args: [
      ...socketChardev('qga0', socket),
      ...device('virtio-serial-pci', { id: 'vserial', bus: port }),
      ...device('virtserialport', { id: 'qga', bus: 'vserial.0', nr: 1, chardev: 'qga0', name: GUEST_AGENT_PORT_NAME }),
    ],
    ports: [port],
  };
}

/** Serial console always; VNC and the guest agent channel when the VM asks for them. */
export function consoleFragment(devices: LauncherVm['devices'], sockets: QemuPlan['sockets']): Fragment {
  const parts = [
    serialFragment(sockets),
    ...(devices.graphics === 'vnc' && sockets.vnc ? [vncFragment(sockets.vnc)] : []),
    ...(devices.guestAgent && sockets.guestAgent ? [guestAgentFragment(sockets.guestAgent)] : []),
  ];
  return mergeFragments(parts);
}
