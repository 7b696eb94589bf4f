// QEMU's human-monitor text for the port forwards of user-mode networking (slirp), as QEMU 7.2
// with libslirp 4.7 reads and prints it: the command lines that add and remove a loopback
// forward, and parsers of the answers and of `info usernet`. Pure; portforward.ts runs them.
//
// The guest port comes from a user (through the subresource server) and ends up in a monitor
// command line, where a space or a quote would start another argument. It arrives here as a
// number and is checked again to be an integer port, so only digits are ever formatted into a
// command; the netdev id is checked against the ids the launcher gives its netdevs.

import { LauncherError } from './errors.js';

/** The host side of every session forward: loopback only, so only the pod's own processes reach it. */
export const LOOPBACK = '127.0.0.1';

/** A forward from a loopback port of the pod to a guest port, on one netdev. */
export interface LoopbackForward {
  /** The slirp netdev id (`net-<interface>`). */
  netdev: string;
  hostPort: number;
  guestPort: number;
}

/** `net-` and the interface's name, a DNS label: nothing else may reach a command line. */
const NETDEV_ID = /^net-[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function checkPort(what: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new LauncherError({ reason: 'InvalidRequest', kind: 'invalid', message: `${what} must be an integer from 1 to 65535, got ${String(port)}` });
  }
  return String(port);
}

function checkNetdev(netdev: string): string {
  if (!NETDEV_ID.test(netdev)) throw new LauncherError({ reason: 'InvalidRequest', kind: 'invalid', message: `not a netdev id of the launcher: ${JSON.stringify(netdev)}` });
  return netdev;
}

/** `hostfwd_add net-x tcp:127.0.0.1:<host>-:<guest>`: the guest address defaults to the first DHCP lease (10.0.2.15). */
export function hostfwdAddCommand(forward: LoopbackForward): string {
  return `hostfwd_add ${checkNetdev(forward.netdev)} tcp:${LOOPBACK}:${checkPort('host port', forward.hostPort)}-:${checkPort('guest port', forward.guestPort)}`;
}

/** `hostfwd_remove net-x tcp:127.0.0.1:<host>`. */
export function hostfwdRemoveCommand(forward: Pick<LoopbackForward, 'netdev' | 'hostPort'>): string {
  return `hostfwd_remove ${checkNetdev(forward.netdev)} tcp:${LOOPBACK}:${checkPort('host port', forward.hostPort)}`;
}

/** What `hostfwd_add` did: QEMU prints nothing on success. */
export type HostfwdAddResult = { added: true } | { added: false; portTaken: boolean; message: string };

/**
 * Reads `hostfwd_add`'s answer. libslirp says only "Could not set up host forwarding rule"
 * when it cannot bind the host port (taken by another socket): the caller tries another port.
 */
export function hostfwdAddResult(output: string): HostfwdAddResult {
  const message = output.trim();
  if (message === '') return { added: true };
  return { added: false, portTaken: message.startsWith('Could not set up host forwarding rule'), message };
}

/** True when `hostfwd_remove` says the rule was removed (else: "... not found"). */
export function hostfwdRemoved(output: string): boolean {
  return /^host forwarding rule for \S+ removed$/.test(output.trim());
}

/** True when `hostfwd_remove` shows that no such rule is left: it removed it, or there was none. */
export function hostfwdGone(output: string): boolean {
  return hostfwdRemoved(output) || /^host forwarding rule for \S+ not found$/.test(output.trim());
}

/** One row of `info usernet`: a slirp socket of a netdev. */
export interface UsernetSocket {
  netdev: string;
  protocol: string;
  /** `HOST_FORWARD` for a forward's listening socket, else the TCP state (`SYN_SENT`, `ESTABLISHED`, ...). */
  state: string;
  /** For a forward and the connections it accepted: the host address and port. */
  sourceAddress: string;
  sourcePort: number;
  /** The guest's address and port. */
  destinationAddress: string;
  destinationPort: number;
}

const SECTION = /^Hub -?\d+ \((.+)\):$/;
const ROW = /^(\w+)\[([A-Z_]+)\]\s+-?\d+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+\d+\s+\d+$/;

/** Parses `info usernet`: a `Hub N (netdev):` header per netdev, then one row per socket. */
export function parseUsernet(output: string): UsernetSocket[] {
  const sockets: UsernetSocket[] = [];
  let netdev: string | undefined;
  for (const line of output.split(/\r?\n/).map((l) => l.trim())) {
    const section = SECTION.exec(line);
    if (section) netdev = section[1];
    const row = ROW.exec(line);
    if (!row || netdev === undefined) continue;
    const [, protocol, state, sourceAddress, sourcePort, destinationAddress, destinationPort] = row as unknown as [string, string, string, string, string, string, string];
    sockets.push({ netdev, protocol, state, sourceAddress, sourcePort: Number(sourcePort), destinationAddress, destinationPort: Number(destinationPort) });
  }
  return sockets;
}

/** The forward's own rule (its listening socket), when it is still in the table. */
export function forwardRule(sockets: readonly UsernetSocket[], forward: Pick<LoopbackForward, 'netdev' | 'hostPort'>): UsernetSocket | undefined {
  return sockets.find((s) => s.netdev === forward.netdev && s.protocol === 'TCP' && s.state === 'HOST_FORWARD' && s.sourceAddress === LOOPBACK && s.sourcePort === forward.hostPort);
}

/**
 * True once slirp has a connection through the forward that the guest accepted. slirp accepts
 * the host side at once and only then sends the guest its SYN: a host-side connect says
 * nothing about the guest port, this row does.
 */
export function guestAccepted(sockets: readonly UsernetSocket[], forward: LoopbackForward): boolean {
  return sockets.some(
    (s) =>
      s.netdev === forward.netdev &&
      s.protocol === 'TCP' &&
      s.state === 'ESTABLISHED' &&
      s.sourceAddress === LOOPBACK &&
      s.sourcePort === forward.hostPort &&
      s.destinationPort === forward.guestPort,
  );
}
