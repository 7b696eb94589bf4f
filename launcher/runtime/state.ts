// The VM's lifecycle as a pure reducer over QMP events and the launcher's own decisions.
// The supervisor feeds every event through `reduceVmState` and reacts to the difference
// (retry an io-error pause, quit a panicked guest), so the rules live in one testable place.

import type { VmPhase } from '../../api/contract/control.js';
import type { KnownQmpEvents, QmpEvent } from '../qmp/index.js';

/** Lifecycle states reported in status (the contract's); `succeeded` and `failed` are final. */
export type { VmPhase };

/** The last I/O error that paused the VM (werror/rerror=stop). */
export interface IoErrorInfo {
  /** `disk <name>` when the launcher knows the node, else QEMU's device or node name. */
  device: string;
  message: string;
}

/** Lifecycle state with the why. */
export interface VmState {
  state: VmPhase;
  /** CamelCase reason, e.g. `PausedByUser`, `IoError`, `GuestShutdown`. */
  reason?: string;
  message?: string;
  /** Set while an I/O error keeps the VM paused; cleared on RESUME. */
  ioError?: IoErrorInfo;
}

/** What can move the state: a QMP event, or something the launcher decided. */
export type VmAction =
  /** `disk`: the VM's disk an event is about (BLOCK_IO_ERROR names only a node). */
  | { type: 'qmp'; event: QmpEvent; disk?: string }
  /** QEMU was started with -S and is kept paused because spec.paused is true. */
  | { type: 'held-paused' }
  /** A user paused a VM that an I/O error had already paused: it stays paused on purpose. */
  | { type: 'paused-by-user' }
  | { type: 'stop-requested'; reason: string; message: string }
  | { type: 'failed'; reason: string; message: string };

/** The state of a VM whose QEMU has just been spawned. */
export const INITIAL_STATE: VmState = { state: 'starting' };

/** True once nothing but the end of QEMU can follow. */
export function isFinal(state: VmPhase): boolean {
  return state === 'succeeded' || state === 'failed';
}

const PAUSED_BY_USER: VmState = { state: 'paused', reason: 'PausedByUser', message: 'paused on request' };

function onShutdown(current: VmState, data: Partial<KnownQmpEvents['SHUTDOWN']>): VmState {
  if (data.guest === true && data.reason === 'guest-panic') {
    return { state: 'failed', reason: 'GuestPanicked', message: 'guest kernel panicked' };
  }
  if (data.guest === true && data.reason === 'guest-reset') {
    return { state: 'failed', reason: 'GuestReboot', message: 'guest rebooted while qemu runs with -no-reboot' };
  }
  if (data.guest === true) return { state: 'succeeded', reason: 'GuestShutdown', message: 'guest powered off' };
  // Host-initiated (quit, signal): the launcher's stop path or the exit decides the outcome.
  if (current.state === 'stopping') return current;
  return { state: 'stopping', reason: 'HostShutdown', message: `qemu is shutting down (${data.reason ?? 'host request'})` };
}

function onBlockIoError(current: VmState, data: Partial<KnownQmpEvents['BLOCK_IO_ERROR']>, disk: string | undefined): VmState {
  if (data.action !== 'stop') return current;
  const device = disk ? `disk ${disk}` : data.device || data['node-name'] || 'unknown device';
  const cause = `${data.operation ?? 'i/o'} error: ${data.reason ?? 'unknown'}${data.nospace ? ' (no space left)' : ''}`;
  const ioError = { device, message: cause };
  if (current.state === 'stopping') return { ...current, ioError };
  return { state: 'paused', reason: 'IoError', message: `paused on ${device}: ${cause}`, ioError };
}

function onStop(current: VmState): VmState {
  if (current.state === 'stopping') return current;
  if (current.ioError) {
    const { device, message } = current.ioError;
    return { state: 'paused', reason: 'IoError', message: `paused on ${device}: ${message}`, ioError: current.ioError };
  }
  return PAUSED_BY_USER;
}

function onQmpEvent(current: VmState, event: QmpEvent, disk?: string): VmState {
  switch (event.event) {
    case 'RESUME':
    case 'WAKEUP':
      return current.state === 'stopping' ? { ...current, ioError: undefined } : { state: 'running' };
    case 'STOP':
      return onStop(current);
    case 'SUSPEND':
      return current.state === 'stopping' ? current : { state: 'paused', reason: 'GuestSuspended', message: 'guest suspended itself (S3)' };
    case 'BLOCK_IO_ERROR':
      return onBlockIoError(current, event.data as Partial<KnownQmpEvents['BLOCK_IO_ERROR']>, disk);
    case 'SHUTDOWN':
      return onShutdown(current, event.data as Partial<KnownQmpEvents['SHUTDOWN']>);
    case 'GUEST_PANICKED':
      return { state: 'failed', reason: 'GuestPanicked', message: 'guest kernel panicked' };
    default:
      return current; // RESET and everything else: a reset guest is still running
  }
}

/** Next state after `action`. Final states never change. */
export function reduceVmState(current: VmState, action: VmAction): VmState {
  if (isFinal(current.state)) return current;
  switch (action.type) {
    case 'qmp':
      return onQmpEvent(current, action.event, action.disk);
    case 'held-paused':
      return { state: 'paused', reason: 'PausedByUser', message: 'started paused (spec.paused)' };
    case 'paused-by-user':
      return current.state === 'paused' ? PAUSED_BY_USER : current;
    case 'stop-requested':
      return { state: 'stopping', reason: action.reason, message: action.message };
    case 'failed':
      return { state: 'failed', reason: action.reason, message: action.message };
  }
}
