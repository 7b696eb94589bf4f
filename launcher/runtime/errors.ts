// Typed launcher errors. Each carries a stable CamelCase `reason` (it ends up in a status
// condition, the termination message and the control API's JSON errors) and a `kind` that
// tells the control API which HTTP status fits without it knowing every error class.

/**
 * How a caller should treat the error: bad input, wrong state, unknown thing, a failure, or
 * (for streams the launcher opens to QEMU or the guest) a far end that refused or did not answer.
 */
export type LauncherErrorKind = 'invalid' | 'conflict' | 'not-found' | 'failed' | 'unreachable' | 'timeout';

/** Base class of every error the launcher raises on purpose. */
export class LauncherError extends Error {
  /** Stable CamelCase reason, suitable for a status condition. */
  readonly reason: string;
  readonly kind: LauncherErrorKind;

  constructor(init: { reason: string; message: string; kind?: LauncherErrorKind; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.reason = init.reason;
    this.kind = init.kind ?? 'failed';
  }
}

/** The requested accelerator cannot be used on this host. */
export class AcceleratorError extends LauncherError {}

/** A disk cannot be prepared (missing mapping, missing file, unreadable image). */
export class DiskError extends LauncherError {
  /** The disk's name in the VM spec. */
  readonly disk: string;

  constructor(init: { disk: string; reason: string; message: string; kind?: LauncherErrorKind; cause?: unknown }) {
    super(init);
    this.disk = init.disk;
  }
}

/** An operation is not possible in the VM's current state (HTTP 409). */
export class VmStateError extends LauncherError {
  constructor(operation: string, state: string) {
    super({ reason: 'WrongState', kind: 'conflict', message: `cannot ${operation} while the vm is ${state}` });
  }
}

/** A hotplug or unplug failed or was refused. */
export class HotplugError extends DiskError {}

/** The guest agent did not answer, or answered with an error. */
export class GuestAgentError extends LauncherError {}

/** A short one-line description of any thrown value. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The `reason` of a typed error (launcher, QMP, cloud-init, plan), else `fallback`. */
export function reasonOf(err: unknown, fallback: string): string {
  const reason = (err as { reason?: unknown } | undefined)?.reason;
  return typeof reason === 'string' && reason ? reason : fallback;
}
