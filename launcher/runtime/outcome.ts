// How a VM run ended, decided from the final lifecycle state, what the launcher did to stop
// it, and how QEMU exited. Pure, so every ending has a table test and the one-line reason
// written to the termination log reads the same everywhere.

import { describeExit, type QemuExit } from './process.js';
import type { VmState } from './state.js';

/** What the launcher did while stopping the VM on request. */
export interface StopRecord {
  /** Why the stop was requested (`StopRequested`, `SignalReceived`, ...). */
  reason: string;
  graceSeconds: number;
  /** How the guest was asked: guest agent, ACPI button, or not at all (it was not running). */
  method: 'guest-agent' | 'acpi' | 'none';
  /** The VM's state when the stop was requested. */
  from: string;
  /** The guest did not power off within the grace period and `quit` was used. */
  graceExpired: boolean;
  /** The stop was forced: `quit` without waiting for the guest. */
  forced?: boolean;
  /** Signals the launcher sent to QEMU, in order. */
  signalsSent: NodeJS.Signals[];
}

/** The end of a run: the launcher's exit code and a one-line reason. */
export interface RunOutcome {
  exitCode: number;
  state: 'succeeded' | 'failed';
  reason: string;
  message: string;
}

/** What {@link decideOutcome} looks at. */
export interface OutcomeInput {
  state: VmState;
  exit: QemuExit;
  stop?: StopRecord;
  stderrTail: string;
}

/** The last few lines of QEMU's stderr, on one line. */
export function oneLineTail(text: string, maxChars = 400): string {
  const joined = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' | ');
  return joined.length > maxChars ? `...${joined.slice(joined.length - maxChars)}` : joined;
}

const ok = (reason: string, message: string): RunOutcome => ({ exitCode: 0, state: 'succeeded', reason, message });
const fail = (reason: string, message: string): RunOutcome => ({ exitCode: 1, state: 'failed', reason, message });

function withTail(message: string, tail: string): string {
  const t = oneLineTail(tail);
  return t ? `${message}: ${t}` : message;
}

function unexpectedExit({ state, exit, stderrTail }: OutcomeInput): RunOutcome {
  if (exit.signal) return fail('QemuKilled', withTail(`qemu exited on ${describeExit(exit)}`, stderrTail));
  if (state.state === 'starting') return fail('QemuStartFailed', withTail(`qemu exited with ${describeExit(exit)} while starting`, stderrTail));
  const what = exit.code === 0 ? 'qemu exited with code 0 but the guest did not power off' : `qemu exited with ${describeExit(exit)}`;
  return fail('QemuExited', withTail(what, stderrTail));
}

function requestedStop(input: OutcomeInput, stop: StopRecord): RunOutcome {
  const { exit } = input;
  if (exit.signal === 'SIGKILL' && stop.signalsSent.includes('SIGKILL')) {
    return fail('QemuKilled', 'qemu exited on signal SIGKILL: it did not exit after quit and SIGTERM');
  }
  const ours = exit.signal ? stop.signalsSent.includes(exit.signal) : exit.code === 0;
  if (!ours) return unexpectedExit(input);
  if (stop.forced) return ok('ForcedStop', 'stopped with quit without waiting for the guest; what it had not written to disk is lost');
  if (stop.graceExpired) {
    return ok('GracePeriodExpired', `guest did not power off within ${stop.graceSeconds}s; stopped with quit`);
  }
  if (stop.method === 'none') return ok('Stopped', `vm was ${stop.from}; stopped with quit`);
  return ok('Stopped', 'stopped on request');
}

/** Decide the outcome of a run once QEMU has exited. */
export function decideOutcome(input: OutcomeInput): RunOutcome {
  const { state, stop } = input;
  if (state.state === 'succeeded') return ok(state.reason ?? 'GuestShutdown', state.message ?? 'guest powered off');
  if (state.state === 'failed') return fail(state.reason ?? 'Failed', state.message ?? 'the vm failed');
  if (stop) return requestedStop(input, stop);
  return unexpectedExit(input);
}

/** The one line written to the termination log and stderr. */
export function outcomeLine(outcome: Pick<RunOutcome, 'reason' | 'message'>): string {
  return `${outcome.reason}: ${outcome.message}`.replace(/\s*\n\s*/g, ' | ');
}
