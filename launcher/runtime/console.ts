// The serial console bridge: stdin/stdout <-> QEMU's serial socket, for `launcher console`
// (through `kubectl exec -it`) and `kubevmm play`. Ctrl-] detaches, as in virsh and telnet,
// because every other key belongs to the guest.

import net from 'node:net';

/** Ctrl-]: detach from the console. */
export const CONSOLE_ESCAPE = 0x1d;

/** Options of {@link attachConsole}. */
export interface ConsoleOptions {
  socket: string;
  input?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  output?: NodeJS.WritableStream;
  /** Byte that detaches; default Ctrl-]. null: only the socket closing ends the session. */
  escape?: number | null;
}

/**
 * Bridge a terminal to the serial socket until the user detaches or QEMU closes the socket.
 * The terminal is put in raw mode so keys reach the guest unprocessed, and restored after.
 */
export function attachConsole(options: ConsoleOptions): Promise<'detached' | 'closed'> {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const escape = options.escape === undefined ? CONSOLE_ESCAPE : options.escape;
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(options.socket);
    const raw = Boolean(input.isTTY && input.setRawMode);
    let ended = false;
    const finish = (how: 'detached' | 'closed', err?: Error): void => {
      if (ended) return;
      ended = true;
      input.off('data', onInput);
      input.off('end', onEnd);
      if (raw) input.setRawMode?.(false);
      input.pause();
      // Detaching flushes what was typed last (a pipe's final command); a failure drops it.
      if (how === 'detached' && !err) socket.end();
      else socket.destroy();
      if (err) reject(err);
      else resolve(how);
    };
    // stdin closing (kubectl exec disconnected, a pipe ran dry) detaches too.
    const onEnd = (): void => finish('detached');
    const onInput = (chunk: Buffer | string): void => {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const at = escape === null ? -1 : data.indexOf(escape);
      if (at === -1) {
        socket.write(data);
        return;
      }
      if (at > 0) socket.write(data.subarray(0, at));
      finish('detached');
    };
    socket.once('connect', () => {
      if (raw) input.setRawMode?.(true);
      input.on('data', onInput);
      input.once('end', onEnd);
      input.resume();
    });
    socket.on('data', (chunk: Buffer) => output.write(chunk));
    socket.once('close', () => finish('closed'));
    socket.once('error', (err) => finish('closed', new Error(`cannot open the serial console ${options.socket}: ${err.message}`)));
  });
}
