// Wire shapes of the QEMU Machine Protocol (docs/interop/qmp-spec in QEMU) and a classifier
// that turns a parsed JSON value into one of them. Kept free of I/O so framing and
// classification can be unit-tested without sockets.

import { QmpProtocolError } from './errors.js';

/** QEMU's version triple as sent in the greeting. */
export interface QmpVersion {
  qemu: { major: number; minor: number; micro: number };
  package: string;
}

/** The first message QEMU sends on a new monitor connection. */
export interface QmpGreeting {
  version: QmpVersion;
  /** Optional protocol capabilities offered by the server, e.g. `oob`. */
  capabilities: string[];
}

/** Time an event was raised, as QEMU reports it (wall clock). */
export interface QmpTimestamp {
  seconds: number;
  microseconds: number;
}

/** An asynchronous event. `data` is `{}` when QEMU omits it (e.g. `STOP`, `RESUME`). */
export interface QmpEvent<D = Record<string, unknown>> {
  event: string;
  data: D;
  timestamp: QmpTimestamp;
}

/**
 * Data of the events the launcher relies on. Names not listed here are still delivered,
 * typed as `Record<string, unknown>`.
 */
export interface KnownQmpEvents {
  SHUTDOWN: { guest: boolean; reason: string };
  POWERDOWN: Record<string, never>;
  RESET: { guest: boolean; reason: string };
  STOP: Record<string, never>;
  RESUME: Record<string, never>;
  SUSPEND: Record<string, never>;
  WAKEUP: Record<string, never>;
  GUEST_PANICKED: { action: string; info?: Record<string, unknown> };
  DEVICE_DELETED: { device?: string; path: string };
  BLOCK_IO_ERROR: {
    device: string;
    'node-name'?: string;
    operation: 'read' | 'write';
    action: 'ignore' | 'report' | 'stop';
    nospace?: boolean;
    reason: string;
  };
}

/** Event data type for a name: the known shape, or a loose record. */
export type QmpEventData<N extends string> = N extends keyof KnownQmpEvents
  ? KnownQmpEvents[N]
  : Record<string, unknown>;

/** A parsed message, tagged by kind. `id` is whatever we sent (we only send numbers). */
export type QmpMessage =
  | { kind: 'greeting'; greeting: QmpGreeting }
  | { kind: 'return'; id: unknown; value: unknown }
  | { kind: 'error'; id: unknown; errorClass: string; desc: string }
  | { kind: 'event'; event: QmpEvent };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toEvent(msg: Record<string, unknown>): QmpEvent {
  const ts = isRecord(msg.timestamp) ? msg.timestamp : {};
  return {
    event: String(msg.event),
    data: isRecord(msg.data) ? msg.data : {},
    timestamp: {
      seconds: typeof ts.seconds === 'number' ? ts.seconds : 0,
      microseconds: typeof ts.microseconds === 'number' ? ts.microseconds : 0,
    },
  };
}

function toError(msg: Record<string, unknown>): QmpMessage {
  const err = isRecord(msg.error) ? msg.error : {};
  return {
    kind: 'error',
    id: msg.id,
    errorClass: typeof err.class === 'string' ? err.class : 'GenericError',
    desc: typeof err.desc === 'string' ? err.desc : JSON.stringify(msg.error),
  };
}

/**
 * Classify one decoded JSON value. Throws {@link QmpProtocolError} for anything that is
 * none of greeting, return, error or event, because continuing after that would mean
 * guessing at the peer's state.
 */
export function classifyMessage(value: unknown): QmpMessage {
  if (!isRecord(value)) throw new QmpProtocolError(`QMP message is not an object: ${JSON.stringify(value)}`);
  if ('return' in value) return { kind: 'return', id: value.id, value: value.return };
  if ('error' in value) return toError(value);
  if (typeof value.event === 'string') return { kind: 'event', event: toEvent(value) };
  if (isRecord(value.QMP)) {
    const qmp = value.QMP;
    const capabilities = Array.isArray(qmp.capabilities) ? qmp.capabilities.map(String) : [];
    return { kind: 'greeting', greeting: { version: qmp.version as QmpVersion, capabilities } };
  }
  throw new QmpProtocolError(`unrecognised QMP message: ${JSON.stringify(value).slice(0, 200)}`);
}
