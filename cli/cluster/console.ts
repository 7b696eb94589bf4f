/**
 * `kubevmm console NAME`: the VM's serial console on this terminal, through the
 * `virtualmachines/console` subresource. On a terminal the keys go raw to the guest and Ctrl-]
 * detaches; a pipe works too (its end detaches, after what it carried was sent). The terminal
 * is restored on every way out: detach, the stream's end or failure, a signal, an exception.
 * A second session on a console is a read-only mirror (ADR 0011); the CLI says so.
 */
import { CONSOLE_MODE_HEADER } from '../../api/contract/control.js';
import { EXIT } from '../program.js';
import { bridgeTerminal, CONSOLE_ESCAPE, enterRawMode, onStopSignal, type StopSignal } from '../terminal.js';
import type { VerbRequest } from './args.js';
import type { ClusterContext } from './context.js';
import { printable } from './progress.js';
import { processIo, reportFailure, type RunnerIo } from './runner-io.js';
import { openStream, type WebSocketStream } from './stream.js';

type ConsoleRequest = Extract<VerbRequest, { verb: 'console' }>;

/** The line printed when the session starts, by the mode the server named. */
export function modeLine(name: string, mode: string | undefined, tty: boolean): string {
  const detach = tty ? 'Ctrl-] detaches' : 'the end of the input detaches';
  if (mode === 'read-only') {
    return `read-only: another session is typing on the console of ${name}; you see its output and your keys go nowhere (${detach})`;
  }
  return `connected to the console of ${name} (${detach})`;
}

/** The line printed when the server ended the stream. */
export function endedLine(name: string, reason: string | undefined): string {
  return `the console of ${name} closed${reason ? `: ${printable(reason)}` : ''}`;
}

/** Runs the console session; resolves with the exit code. */
export async function runConsole(request: ConsoleRequest, ctx: ClusterContext, io: RunnerIo = processIo()): Promise<number> {
  let opened;
  try {
    opened = await openStream(ctx, { name: request.name, subresource: 'console' });
  } catch (err) {
    return reportFailure(io, err);
  }
  const tty = Boolean(io.stdin.isTTY);
  const header = opened.headers[CONSOLE_MODE_HEADER];
  io.stderr.write(`kubevmm: ${modeLine(request.name, Array.isArray(header) ? header[0] : header, tty)}\n`);
  return attach(opened.stream, request.name, io);
}

async function attach(stream: WebSocketStream, name: string, io: RunnerIo): Promise<number> {
  const tty = Boolean(io.stdin.isTTY);
  const terminal = enterRawMode(io.stdin, io.events);
  let signalled: StopSignal | undefined;
  const stopListening = onStopSignal((signal) => {
    signalled = signal;
    stream.destroy();
  }, io.events);
  // In raw mode "\n" alone does not return the carriage: the first line of a message needs "\r\n".
  const line = (text: string) => io.stderr.write(`${terminal.raw ? '\r\n' : ''}kubevmm: ${text}\n`);
  try {
    const how = await bridgeTerminal({ stream, input: io.stdin, output: io.stdout, escape: tty ? CONSOLE_ESCAPE : null });
    terminal.restore();
    if (signalled) line(`console closed (${signalled})`);
    else if (how === 'detached') line('detached');
    else line(endedLine(name, stream.ended?.reason));
    return signalled && signalled !== 'SIGINT' ? EXIT.failed : EXIT.ok;
  } catch (err) {
    terminal.restore();
    if (terminal.raw) io.stderr.write('\r\n');
    return reportFailure(io, err);
  } finally {
    terminal.restore();
    stopListening();
  }
}
