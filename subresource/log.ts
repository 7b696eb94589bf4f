/**
 * What the server logs through: pino's Logger fits it (main.ts), and unit tests pass a recorder.
 * Structured fields first, then the message, as pino takes them.
 */
export interface SubresourceLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A log that drops everything. */
export const silentLog: SubresourceLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
