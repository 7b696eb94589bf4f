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

/** A program the launcher runs is not installed (a broken launcher image, or a dev machine). */
export class MissingProgramError extends CloudInitError {
  readonly program: string;

  constructor(program: string, install: string, options?: { cause?: unknown }) {
    super('MissingProgram', `${program} is not installed or not on PATH; install it with \`${install}\``, options);
    this.program = program;
  }
}

/** The ISO tool ran but failed; `stderr` holds its last words. */
export class CidataBuildError extends CloudInitError {
  readonly stderr: string;

  constructor(message: string, stderr: string, options?: { cause?: unknown }) {
    super('CidataBuildFailed', stderr ? `${message}: ${stderr}` : message, options);
    this.stderr = stderr;
  }
}
