// Typed errors of the argv planner. Each carries a stable `reason` because the launcher turns
// a failed plan into a status condition and an event, where a reason must be machine-readable.

/** Base class of every error raised while planning QEMU's command line. */
export class QemuPlanError extends Error {
  /** Stable CamelCase reason, suitable for a status condition. */
  readonly reason: string;

  constructor(reason: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.reason = reason;
  }
}

/**
 * The VM asks for something this launcher cannot provide (e.g. a bridge binding, which needs
 * a tap device and CAP_NET_ADMIN). Terminal: retrying the same spec fails the same way.
 */
export class UnsupportedSpecError extends QemuPlanError {
  constructor(message: string) {
    super('Unsupported', message);
  }
}

/**
 * The launcher did not hand the planner something it must provide (a disk backing, the EFI
 * firmware paths, a usable runtime directory). A bug in the launcher, not in the user's spec.
 */
export class LauncherInputError extends QemuPlanError {
  constructor(message: string) {
    super('MissingInput', message);
  }
}
