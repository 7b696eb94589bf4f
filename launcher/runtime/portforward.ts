// Port-forward sessions: a TCP connection to any port of the guest, also ports the spec does
// not list. The guest sits behind QEMU's user-mode network (slirp), which reaches in only
// through forwards. So each session adds a forward from a free loopback port of the pod to the
// guest port on the first interface's netdev, connects to it, waits until the guest accepted
// (slirp accepts the host side before the guest has answered), and removes the forward again.
// Removing a forward closes only slirp's listening socket; the connection it accepted lives on
// (QEMU 7.2, libslirp 4.7), so a loopback port forwards to the guest only while a session
// connects: nothing is left behind by a session that ends however it ends.

import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PORT_FORWARD_CONNECT_TIMEOUT_MS } from '../../api/contract/control.js';
import type { QmpExecutor } from '../qmp/index.js';
import { connectSocket } from './connect.js';
import { LauncherError, VmStateError, describeError } from './errors.js';
import { LOOPBACK, guestAccepted, hostfwdAddCommand, hostfwdAddResult, hostfwdGone, hostfwdRemoveCommand, parseUsernet, type HostfwdAddResult, type LoopbackForward } from './hostfwd.js';
import { freePort } from './ports.js';
import type { VmPhase } from './state.js';

/** Defaults of {@link PortForwarderOptions}. */
export const PORT_FORWARD_DEFAULTS = { connectTimeoutMs: PORT_FORWARD_CONNECT_TIMEOUT_MS, pollMs: 20, maxSessions: 64, addAttempts: 5 };

type Settings = PortForwarderOptions & typeof PORT_FORWARD_DEFAULTS;

/** What the forwarder needs from the supervisor. */
export interface PortForwarderOptions {
  /** QEMU's monitor while it runs. */
  qmp(): QmpExecutor | undefined;
  state(): VmPhase;
  /** The first interface's slirp netdev (`net-<name>`); undefined when the VM has no interface. */
  netdev: string | undefined;
  /** How long the guest may take to accept. */
  connectTimeoutMs?: number;
  /** How often `info usernet` is read while waiting for the guest. */
  pollMs?: number;
  /** Sessions open at once; each holds a socket in QEMU. */
  maxSessions?: number;
  /** Picks a free loopback port; tests pass their own. */
  freePort?: () => Promise<number>;
  log?: (line: string) => void;
}

/** Resolves with what the connection showed first: bytes from the guest, or its end. */
function firstSign(socket: Socket): { seen: () => 'data' | 'end' | undefined; changed: Promise<void>; stop: () => void } {
  let seen: 'data' | 'end' | undefined;
  let notify = (): void => undefined;
  const changed = new Promise<void>((resolve) => (notify = resolve));
  // 'readable' without buffered bytes is the end; bytes stay buffered for the session.
  const onReadable = (): void => void ((seen = socket.readableLength > 0 ? 'data' : 'end'), notify());
  const onEnd = (): void => void ((seen = 'end'), notify());
  socket.once('readable', onReadable).once('close', onEnd);
  return { seen: () => seen, changed, stop: () => void socket.removeListener('readable', onReadable).removeListener('close', onEnd) };
}

/** Opens port-forward sessions to the guest of one VM. */
export class PortForwarder {
  /** Sessions counted from the moment open() accepted them, so parallel calls cannot pass the limit together. */
  private slots = 0;
  /** Loopback ports in use: by a forward, a live session, or a forward QEMU may still hold (never reused). */
  private readonly hostPorts = new Set<number>();
  private readonly options: Settings;

  constructor(options: PortForwarderOptions) {
    this.options = { ...PORT_FORWARD_DEFAULTS, ...options };
  }

  /** Sessions open now (connecting or connected). */
  get sessions(): number {
    return this.slots;
  }

  /**
   * A connection to `guestPort` that the guest accepted. Rejects with NoNetwork, WrongState,
   * TooManySessions, GuestPortClosed (nothing listens), GuestPortTimeout, PortForwardFailed,
   * or the signal's reason when the caller gave up; no forward is left in QEMU either way
   * (one whose removal failed keeps its loopback port out of use).
   */
  async open(guestPort: number, signal?: AbortSignal): Promise<Socket> {
    const qmp = this.usableMonitor();
    this.slots++; // taken before the first await: the limit holds for calls made at once
    // The loopback port to free when the session ends; undefined while there is none, or when
    // QEMU may still hold its rule. It stays reserved while the connection lives, so no later
    // session's forward can share it and be taken for this one in `info usernet`.
    let hostPort: number | undefined;
    const end = (): void => {
      this.slots--;
      if (hostPort !== undefined) this.hostPorts.delete(hostPort);
    };
    let socket: Socket | undefined;
    try {
      const forward = await this.addForward(qmp, guestPort);
      hostPort = forward.hostPort;
      try {
        socket = await connectSocket({ host: LOOPBACK, port: forward.hostPort }, signal);
        await this.awaitGuest(qmp, forward, socket, signal);
      } finally {
        if (!(await this.removeForward(qmp, forward))) hostPort = undefined;
      }
    } catch (err) {
      socket?.destroy();
      end();
      throw err;
    }
    socket.once('close', end);
    return socket;
  }

  private usableMonitor(): QmpExecutor {
    const { netdev, maxSessions } = this.options;
    if (!netdev) {
      throw new LauncherError({
        reason: 'NoNetwork',
        kind: 'conflict',
        message: 'this VM has no network interface (spec.interfaces is []): port-forward reaches the guest through its first interface; add one to spec.interfaces (binding masquerade); a change needs a restart of the VM',
      });
    }
    const state = this.options.state();
    const qmp = this.options.qmp();
    if (state !== 'running' || !qmp) throw new VmStateError('forward a guest port', state);
    if (this.slots >= maxSessions) {
      throw new LauncherError({ reason: 'TooManySessions', kind: 'conflict', message: `${maxSessions} port-forward sessions are open on this VM; close one and try again` });
    }
    return qmp;
  }

  /**
   * Adds a forward from a free loopback port; another port when that one was taken meanwhile.
   * Any other outcome (a refusal, no answer in time) may still have left the rule in QEMU, so
   * it is removed again; a port whose removal failed stays reserved.
   */
  private async addForward(qmp: QmpExecutor, guestPort: number): Promise<LoopbackForward> {
    const pick = this.options.freePort ?? freePort;
    let last = 'no free loopback port';
    for (let attempt = 0; attempt < this.options.addAttempts; attempt++) {
      const hostPort = await pick();
      if (this.hostPorts.has(hostPort)) continue;
      const forward = { netdev: this.options.netdev!, hostPort, guestPort };
      const command = hostfwdAddCommand(forward); // checks the ports before anything is reserved
      this.hostPorts.add(hostPort);
      let result: HostfwdAddResult;
      try {
        result = hostfwdAddResult(await this.hmp(qmp, command));
      } catch (err) {
        await this.discard(qmp, forward);
        throw err;
      }
      if (result.added) return forward;
      if (result.portTaken) {
        this.hostPorts.delete(hostPort); // slirp could not bind it: nothing to remove
        last = result.message;
        continue;
      }
      await this.discard(qmp, forward);
      throw new LauncherError({ reason: 'PortForwardFailed', message: `QEMU refused the forward to guest port ${guestPort}: ${result.message}` });
    }
    throw new LauncherError({ reason: 'PortForwardFailed', message: `no loopback port could be forwarded to guest port ${guestPort} after ${this.options.addAttempts} attempts: ${last}` });
  }

  /** Waits until slirp shows the guest's accept, or the guest's first bytes arrive. */
  private async awaitGuest(qmp: QmpExecutor, forward: LoopbackForward, socket: Socket, signal?: AbortSignal): Promise<void> {
    const sign = firstSign(socket);
    const deadline = Date.now() + this.options.connectTimeoutMs;
    try {
      for (;;) {
        signal?.throwIfAborted();
        if (sign.seen() === 'data') return;
        if (sign.seen() === 'end') {
          throw new LauncherError({ reason: 'GuestPortClosed', kind: 'unreachable', message: `nothing accepts connections on guest port ${forward.guestPort} (connection refused): start a server on that port in the guest` });
        }
        if (guestAccepted(parseUsernet(await this.hmp(qmp, 'info usernet')), forward)) return;
        if (Date.now() > deadline) {
          throw new LauncherError({
            reason: 'GuestPortTimeout',
            kind: 'timeout',
            message: `guest port ${forward.guestPort} did not answer within ${this.options.connectTimeoutMs / 1000} s (a firewall in the guest dropping it, or a guest without the address 10.0.2.15 from DHCP)`,
          });
        }
        await Promise.race([sleep(this.options.pollMs), sign.changed]);
      }
    } finally {
      sign.stop();
    }
  }

  /** Removes a forward that serves no session; its port is free again only once QEMU shows no rule. */
  private async discard(qmp: QmpExecutor, forward: LoopbackForward): Promise<void> {
    if (await this.removeForward(qmp, forward)) this.hostPorts.delete(forward.hostPort);
  }

  /**
   * Removes the forward; true when QEMU shows none left. Otherwise the caller keeps the port
   * reserved for good: a rule QEMU may still hold must never be taken for a later session's.
   */
  private async removeForward(qmp: QmpExecutor, forward: LoopbackForward): Promise<boolean> {
    let problem: string;
    try {
      const output = await this.hmp(qmp, hostfwdRemoveCommand(forward));
      if (hostfwdGone(output)) return true;
      problem = output.trim();
    } catch (err) {
      // Most often QEMU has gone (the launcher is stopping) and its forwards with it.
      problem = describeError(err);
    }
    this.options.log?.(`port-forward: removing the forward from 127.0.0.1:${forward.hostPort} failed, the port stays out of use: ${problem}`);
    return false;
  }

  private hmp(qmp: QmpExecutor, commandLine: string): Promise<string> {
    return qmp.execute<string>('human-monitor-command', { 'command-line': commandLine });
  }
}
