// Typed QMP errors. Each carries a `reason` (a short CamelCase word) because the launcher
// turns failures into status conditions and events, and a condition reason must be stable
// and machine-readable, unlike a message.

/** Base class of every error raised by the QMP client. */
export class QmpError extends Error {
  /** Stable CamelCase reason, suitable for a status condition. */
  readonly reason: string;

  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.reason = reason;
  }
}

/** QEMU answered a command with an `error` reply. */
export class QmpCommandError extends QmpError {
  /** QEMU's error class, e.g. `GenericError`, `DeviceNotFound`, `CommandNotFound`. */
  readonly errorClass: string;
  /** QEMU's human-readable description. */
  readonly desc: string;
  /** The command that failed. */
  readonly command: string;

  constructor(init: { command: string; errorClass: string; desc: string }) {
    super('QmpCommandFailed', `QMP command ${init.command} failed: ${init.errorClass}: ${init.desc}`);
    this.command = init.command;
    this.errorClass = init.errorClass;
    this.desc = init.desc;
  }
}

/** A command or an awaited event did not arrive within its deadline. */
export class QmpTimeoutError extends QmpError {
  /** What was awaited: a command name or `event:NAME`. */
  readonly operation: string;
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super('QmpTimeout', `QMP ${operation} timed out after ${timeoutMs} ms`);
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/** The connection closed (or was closed) while something was still pending. */
export class QmpClosedError extends QmpError {
  constructor(message = 'QMP connection closed', options?: { cause?: unknown }) {
    super('QmpConnectionClosed', message, options);
  }
}

/** The monitor socket could not be reached, or the handshake did not complete. */
export class QmpConnectError extends QmpError {
  /** The socket path that was tried. */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('QmpConnectFailed', `QMP connect to ${path} failed: ${message}`, options);
    this.path = path;
  }
}

/** The peer sent something that is not QMP (bad JSON, missing greeting, ...). */
export class QmpProtocolError extends QmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QmpProtocolViolation', message, options);
  }
}
