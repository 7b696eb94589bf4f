// One QMP connection: correlates replies with commands by `id`, delivers events, and fails
// everything pending when the connection goes away. QEMU serves one client per monitor, so
// the launcher keeps a single QmpClient for the life of the VM.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { QmpClosedError, QmpCommandError, QmpProtocolError, QmpTimeoutError } from './errors.js';
import { QmpFrameDecoder, encodeCommand } from './framing.js';
import { awaitEvent } from './await-event.js';
import { classifyMessage } from './protocol.js';
import type { QmpEvent, QmpEventData, QmpGreeting, QmpMessage } from './protocol.js';

/** Default deadline for a command reply. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** Default deadline for {@link QmpClient.waitForEvent}. */
export const DEFAULT_EVENT_TIMEOUT_MS = 30_000;

/** Events emitted by {@link QmpClient}. */
export interface QmpClientEvents {
  /** Every asynchronous QMP event, in arrival order. */
  event: [QmpEvent];
  /** Emitted once when the connection is gone; the error says why. */
  closed: [QmpClosedError];
}

/** Per-call options of {@link QmpClient.execute}. */
export interface ExecuteOptions {
  /** Reply deadline; `Infinity` waits forever. Defaults to the client's `commandTimeoutMs`. */
  timeoutMs?: number;
}

/** Options of a {@link QmpClient}. */
export interface QmpClientOptions {
  /** Default reply deadline for {@link QmpClient.execute}. */
  commandTimeoutMs?: number;
}

interface PendingCommand {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** Calls `onTimeout` after `ms`, unless `ms` is infinite (setTimeout would fire at once). */
function startTimer(ms: number, onTimeout: () => void): NodeJS.Timeout | undefined {
  return Number.isFinite(ms) ? setTimeout(onTimeout, Math.max(0, ms)) : undefined;
}

/**
 * A QMP client over a connected socket. Obtain one with `connectQmp`, which also performs
 * the greeting/capabilities handshake; construct directly only around your own socket and
 * then call {@link QmpClient.negotiate}.
 */
export class QmpClient extends EventEmitter<QmpClientEvents> {
  private readonly decoder = new QmpFrameDecoder();
  private readonly pending = new Map<number, PendingCommand>();
  private readonly commandTimeoutMs: number;
  private readonly greetingReceived: Promise<QmpGreeting>;
  private readonly socketClosed: Promise<void>;
  private resolveGreeting!: (greeting: QmpGreeting) => void;
  private rejectGreeting!: (error: Error) => void;
  private nextId = 1;
  private greetingValue: QmpGreeting | undefined;
  private closedError: QmpClosedError | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly socket: Socket,
    options: QmpClientOptions = {},
  ) {
    super();
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.greetingReceived = new Promise<QmpGreeting>((resolve, reject) => {
      this.resolveGreeting = resolve;
      this.rejectGreeting = reject;
    });
    // Marks the promise handled: a connection that dies before anyone awaits the greeting
    // must not crash the process with an unhandled rejection.
    this.greetingReceived.catch(() => undefined);
    this.socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => (this.failure ??= err));
    socket.on('close', () => this.finish(this.closeReason()));
  }

  /** The server's greeting, once received. */
  get greeting(): QmpGreeting | undefined {
    return this.greetingValue;
  }

  /** True once the connection is gone; every further call rejects with QmpClosedError. */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /**
   * Wait for the greeting and leave capability-negotiation mode (`qmp_capabilities`), after
   * which QEMU accepts commands and sends events. Rejects with QmpTimeoutError when the
   * whole handshake takes longer than `timeoutMs`.
   */
  async negotiate(timeoutMs: number): Promise<QmpGreeting> {
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = startTimer(timeoutMs, () => reject(new QmpTimeoutError('handshake', timeoutMs)));
    });
    // The timer may fire while `execute` below is already failing on its own deadline.
    expired.catch(() => undefined);
    try {
      const greeting = await Promise.race([this.greetingReceived, expired]);
      await this.execute('qmp_capabilities', undefined, { timeoutMs: deadline - Date.now() });
      return greeting;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Run a command and resolve with its `return` value. Rejects with QmpCommandError on an
   * `error` reply, QmpTimeoutError after the deadline (a late reply is then dropped), and
   * QmpClosedError when the connection closes first.
   */
  execute<T = unknown>(command: string, args?: object, options: ExecuteOptions = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = startTimer(timeoutMs, () => {
        this.pending.delete(id);
        reject(new QmpTimeoutError(command, timeoutMs));
      });
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(encodeCommand(command, args, id));
    });
  }

  /**
   * Resolve with the next event named `name` that satisfies `predicate`. Register the wait
   * before sending the command that causes the event: an event that arrived earlier is not
   * replayed. Rejects with QmpTimeoutError, QmpClosedError, or the signal's reason.
   */
  waitForEvent<N extends string>(
    name: N,
    predicate: (event: QmpEvent<QmpEventData<N>>) => boolean = () => true,
    timeoutMs: number = DEFAULT_EVENT_TIMEOUT_MS,
    signal?: AbortSignal,
  ): Promise<QmpEvent<QmpEventData<N>>> {
    if (this.closedError) return Promise.reject(this.closedError);
    return awaitEvent({ emitter: this, name, predicate, timeoutMs, signal });
  }

  /** Close the connection; pending commands and waits reject with QmpClosedError. */
  close(): Promise<void> {
    this.finish(new QmpClosedError('QMP connection closed by client'));
    this.socket.destroy();
    return this.socketClosed;
  }

  private closeReason(): QmpClosedError {
    const cause = this.failure;
    const detail = cause ? `: ${cause.message}` : ' by peer';
    return new QmpClosedError(`QMP connection closed${detail}`, cause ? { cause } : undefined);
  }

  private onData(chunk: Buffer): void {
    if (this.closedError) return;
    let messages: QmpMessage[];
    try {
      messages = this.decoder.push(chunk).map(classifyMessage);
    } catch (err) {
      // After garbage we cannot know which reply belongs to what: fail loudly, don't guess.
      this.failure ??= err instanceof Error ? err : new QmpProtocolError(String(err));
      this.socket.destroy();
      return;
    }
    for (const message of messages) this.dispatch(message);
  }

  private dispatch(message: QmpMessage): void {
    switch (message.kind) {
      case 'greeting':
        this.greetingValue = message.greeting;
        this.resolveGreeting(message.greeting);
        return;
      case 'event':
        this.emitSafely(message.event);
        return;
      case 'return':
        this.takePending(message.id)?.resolve(message.value);
        return;
      case 'error': {
        const entry = this.takePending(message.id);
        const { errorClass, desc } = message;
        entry?.reject(new QmpCommandError({ command: entry.command, errorClass, desc }));
      }
    }
  }

  /** Remove and return the command waiting for `id`; undefined for late or foreign replies. */
  private takePending(id: unknown): PendingCommand | undefined {
    if (typeof id !== 'number') return undefined;
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    return entry;
  }

  /** A throwing listener must not stop the replies behind it in the same chunk. */
  private emitSafely(event: QmpEvent): void {
    try {
      this.emit('event', event);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  private finish(error: QmpClosedError): void {
    if (this.closedError) return;
    this.closedError = error;
    this.rejectGreeting(error);
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    this.emit('closed', error);
  }
}
