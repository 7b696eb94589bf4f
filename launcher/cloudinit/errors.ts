// Typed cloud-init errors; `reason` ends up in a status condition, so it is stable CamelCase.

/** Base class of every error raised while preparing the cloud-init disk. */
export class CloudInitError extends Error {
  readonly reason: string;

  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.reason = reason;
  }
}
