import { decideOutcome, oneLineTail, outcomeLine, type OutcomeInput, type StopRecord } from './outcome.js';

const stop = (extra: Partial<StopRecord> = {}): StopRecord => ({
  reason: 'StopRequested',
  graceSeconds: 30,
  method: 'acpi',
  from: 'running',
  graceExpired: false,
  signalsSent: [],
  ...extra,
});
const clean = { code: 0, signal: null };
const killed = { code: null, signal: 'SIGKILL' as const };

describe('decideOutcome', () => {
  it.each<[string, OutcomeInput, number, string]>([
    ['guest power-off', { state: { state: 'succeeded', reason: 'GuestShutdown', message: 'guest powered off' }, exit: clean, stderrTail: '' }, 0, 'GuestShutdown: guest powered off'],
    ['guest power-off on request', { state: { state: 'succeeded', reason: 'GuestShutdown', message: 'guest powered off' }, exit: clean, stop: stop(), stderrTail: '' }, 0, 'GuestShutdown: guest powered off'],
    ['grace period expired', { state: { state: 'stopping' }, exit: clean, stop: stop({ graceExpired: true, graceSeconds: 5 }), stderrTail: '' }, 0, 'GracePeriodExpired: guest did not power off within 5s; stopped with quit'],
    ['forced stop', { state: { state: 'stopping' }, exit: clean, stop: stop({ forced: true }), stderrTail: '' }, 0, 'ForcedStop: stopped with quit without waiting for the guest; what it had not written to disk is lost'],
    ['paused vm stopped', { state: { state: 'stopping' }, exit: clean, stop: stop({ method: 'none', from: 'paused' }), stderrTail: '' }, 0, 'Stopped: vm was paused; stopped with quit'],
    ['SIGTERM we sent', { state: { state: 'stopping' }, exit: { code: null, signal: 'SIGTERM' }, stop: stop({ graceExpired: true, signalsSent: ['SIGTERM'] }), stderrTail: '' }, 0, 'GracePeriodExpired: guest did not power off within 30s; stopped with quit'],
    ['SIGKILL as the last resort', { state: { state: 'stopping' }, exit: killed, stop: stop({ graceExpired: true, signalsSent: ['SIGTERM', 'SIGKILL'] }), stderrTail: '' }, 1, 'QemuKilled: qemu exited on signal SIGKILL: it did not exit after quit and SIGTERM'],
    ['kill -9 from outside', { state: { state: 'running' }, exit: killed, stderrTail: '' }, 1, 'QemuKilled: qemu exited on signal SIGKILL'],
    ['kill -9 during a stop', { state: { state: 'stopping' }, exit: killed, stop: stop(), stderrTail: '' }, 1, 'QemuKilled: qemu exited on signal SIGKILL'],
    ['crash with stderr', { state: { state: 'running' }, exit: { code: 1, signal: null }, stderrTail: 'qemu: a\nqemu: boom\n' }, 1, 'QemuExited: qemu exited with code 1: qemu: a | qemu: boom'],
    ['exit 0 without power-off', { state: { state: 'running' }, exit: clean, stderrTail: '' }, 1, 'QemuExited: qemu exited with code 0 but the guest did not power off'],
    ['bad argv at start', { state: { state: 'starting' }, exit: { code: 1, signal: null }, stderrTail: 'qemu-system-x86_64: -foo: invalid option\n' }, 1, 'QemuStartFailed: qemu exited with code 1 while starting: qemu-system-x86_64: -foo: invalid option'],
    ['panic', { state: { state: 'failed', reason: 'GuestPanicked', message: 'guest kernel panicked' }, exit: clean, stderrTail: '' }, 1, 'GuestPanicked: guest kernel panicked'],
  ])('%s', (_name, input, exitCode, line) => {
    const outcome = decideOutcome(input);
    expect(outcome.exitCode).toBe(exitCode);
    expect(outcomeLine(outcome)).toBe(line);
  });
});

describe('oneLineTail', () => {
  it('joins lines and keeps the end of long output', () => {
    expect(oneLineTail('a\n\n b \n')).toBe('a | b');
    expect(oneLineTail('x'.repeat(1000), 10)).toBe(`...${'x'.repeat(10)}`);
  });
});
