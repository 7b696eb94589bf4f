/**
 * What the stream verbs (console, vnc, ssh, port-forward) read and write, as one object, so a
 * test can give them a fake terminal and fake process events; and how their expected failures
 * become the one line a user reads and exit code 1.
 */
import { EXIT } from '../program.js';
import { onStopSignal, type ProcessEvents, type StopSignal, type TerminalInput } from '../terminal.js';
import { ListenError } from './listen.js';
import { RfbError } from './rfb.js';
import { StreamConnectError, StreamFailedError, StreamRefusedError, StreamRequestError } from './stream.js';

/** The process's terminal and events. */
export interface RunnerIo {
  stdin: TerminalInput;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  events: ProcessEvents;
}

/** The real process's. */
export function processIo(): RunnerIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, events: process };
}

/** Failures whose message is the whole story (it names the fix); anything else is a bug and is thrown. */
const EXPECTED = [StreamRefusedError, StreamConnectError, StreamRequestError, StreamFailedError, ListenError, RfbError];

/** Prints an expected failure and returns exit code 1; throws anything else. */
export function reportFailure(io: RunnerIo, err: unknown): number {
  if (!EXPECTED.some((type) => err instanceof type)) throw err;
  io.stderr.write(`kubevmm: ${(err as Error).message}\n`);
  return EXIT.failed;
}

/** Resolves with the first stop signal (Ctrl-C, SIGTERM, SIGHUP), then stops listening for them. */
export function untilStopSignal(io: RunnerIo): Promise<StopSignal> {
  return new Promise((resolve) => {
    const off = onStopSignal((signal) => {
      off();
      resolve(signal);
    }, io.events);
  });
}
