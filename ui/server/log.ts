/**
 * What the server logs through: pino's Logger fits it (main.ts); `kubevmm ui` and tests pass
 * their own. Fields first, then the message, as pino takes them. Nothing logged ever holds a
 * token: no header, no subprotocol, no query string.
 */
export interface UiLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** A log that drops everything. */
export const silentLog: UiLog = { info: () => undefined, warn: () => undefined };
