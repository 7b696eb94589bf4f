/**
 * The terminal side of a console, shared by `kubevmm play` (QEMU's serial socket) and
 * `kubevmm console` (the cluster's console stream): raw mode that is undone on every way out,
 * the signals that stop a session, and the byte bridge between the keyboard, the screen and a
 * stream, where Ctrl-] detaches as in telnet and virsh (every other key belongs to the guest).
 */
import type { Duplex } from 'node:stream';

/** Ctrl-]: detach from the console (the launcher's `console` verb detaches on it too). */
export { CONSOLE_ESCAPE } from '../launcher/runtime/console.js';

/** The signals that end a session: Ctrl-C outside raw mode, `kill`, the terminal closing. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** A keyboard: process.stdin, or anything shaped like it. */
export interface TerminalInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?: (raw: boolean) => unknown;
}

/** Where process events are registered (process, or a fake in tests). */
export interface ProcessEvents {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/** Raw mode held on a terminal. */
export interface RawMode {
  /** Whether the input is a terminal that was put in raw mode. */
  readonly raw: boolean;
  /** Back to the mode it had; idempotent, safe to call on every exit path. */
  restore(): void;
}

/**
 * Puts `input` in raw mode when it is a terminal (keys then reach the guest unprocessed: Ctrl-C
 * is a byte, not a signal), and restores it when the process exits by any path, an uncaught
 * exception included, as well as when `restore` is called. Not a terminal: nothing to do.
 */
export function enterRawMode(input: TerminalInput, events: ProcessEvents = process): RawMode {
  const raw = Boolean(input.isTTY && input.setRawMode);
  if (!raw) return { raw, restore: () => undefined };
  let held = true;
  const restore = (): void => {
    if (!held) return;
    held = false;
    events.off('exit', restore);
    input.setRawMode?.(false);
  };
  events.on('exit', restore);
  input.setRawMode?.(true);
  return { raw, restore };
}

/** Calls `stop` on the first of {@link STOP_SIGNALS}; returns the function that stops listening. */
export function onStopSignal(stop: (signal: StopSignal) => void, events: ProcessEvents = process): () => void {
  const handlers = STOP_SIGNALS.map((signal) => [signal, () => stop(signal)] as const);
  for (const [signal, handler] of handlers) events.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) events.off(signal, handler);
  };
}

/** Options of {@link bridgeTerminal}. */
export interface BridgeOptions {
  /** The guest's side: a serial socket, a console WebSocket stream. */
  stream: Duplex;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** The byte that detaches; null: only the stream's end (or the input's) ends the session. */
  escape: number | null;
}

/** How a bridged session ended: the user detached (Ctrl-], the input ended) or the stream ended. */
export type BridgeEnd = 'detached' | 'ended';

/**
 * Copies keys to the stream and the stream to the screen until the user detaches or the stream
 * ends; rejects when the stream fails. Both directions keep backpressure: a stream that cannot
 * take keys pauses the keyboard, a slow screen pauses the stream. Detaching ends the stream
 * after what was typed before the escape (a pipe's last command is delivered).
 */
export function bridgeTerminal(options: BridgeOptions): Promise<BridgeEnd> {
  const { stream, input, output, escape } = options;
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (how: BridgeEnd | Error): void => {
      if (done) return;
      done = true;
      input.off('data', onInput);
      input.off('end', onInputEnd);
      input.pause();
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onEnd);
      stream.unpipe(output);
      // The session is over: a late failure of the stream has nobody left to tell.
      stream.on('error', () => undefined);
      if (how === 'detached') stream.end().resume();
      else stream.destroy();
      if (how instanceof Error) reject(how);
      else resolve(how);
    };
    const onInput = (chunk: Buffer | string): void => {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const at = escape === null ? -1 : data.indexOf(escape);
      const keys = at === -1 ? data : data.subarray(0, at);
      if (keys.length && !stream.write(keys)) {
        input.pause();
        stream.once('drain', () => !done && input.resume());
      }
      if (at !== -1) finish('detached');
    };
    // stdin running dry (a pipe, a closed terminal) detaches too.
    const onInputEnd = (): void => finish('detached');
    const onEnd = (): void => finish('ended');
    const onError = (err: Error): void => finish(err);
    stream.pipe(output, { end: false });
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
    input.on('data', onInput);
    input.once('end', onInputEnd);
    input.resume();
  });
}
