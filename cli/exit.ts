/** The CLI contract's exit codes (shared/API.md), and the errors that carry one. */

/** 0 done, 1 failed (reason printed), 2 usage error, 3 a cluster verb ran out of --timeout. */
export const EXIT = { ok: 0, failed: 1, usage: 2, timedOut: 3 } as const;

/** A verb ended without doing what it was asked; main prints the message and exits with `exitCode`. */
export class VerbError extends Error {
  override readonly name = 'VerbError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}
