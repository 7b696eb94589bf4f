/**
 * runStrategy semantics, restart requests and crash-loop backoff. Pure.
 *
 * | runStrategy    | no launcher yet | guest powered off | launcher failed        |
 * | Always         | start           | start again       | start again, backoff   |
 * | RerunOnFailure | start           | stay Stopped      | start again, backoff   |
 * | Once           | start once      | stay Stopped      | stay Stopped           |
 * | Manual         | on request only | stay Stopped      | stay Stopped           |
 * | Halted         | never           | -                 | -                      |
 * "On request" = spec.restartRequestedAt newer than status.startedAt; it also restarts a
 * running VM under any strategy but Halted.
 */
import type { RunStrategy, VirtualMachine, VmStatus } from '../../api/schema/vm.js';

/** True when the user asked for a (re)start after the current run began. */
export function restartRequested(vm: VirtualMachine, status: VmStatus): boolean {
  const at = vm.spec.restartRequestedAt;
  if (!at) return false;
  return !status.startedAt || Date.parse(at) > Date.parse(status.startedAt);
}

/** Whether a VM with no launcher pod should get one now (backoff aside). */
export function wantsStart(vm: VirtualMachine, status: VmStatus): boolean {
  const strategy: RunStrategy = vm.spec.runStrategy ?? 'Always';
  if (strategy === 'Halted') return false;
  if (strategy === 'Always' || strategy === 'RerunOnFailure') return true;
  if (strategy === 'Once' && !status.startedAt) return true;
  return restartRequested(vm, status);
}

/** Whether a launcher that ended (guest off or launcher failed) is started again. */
export function restartsAfter(end: 'succeeded' | 'failed', strategy: RunStrategy): boolean {
  if (strategy === 'Always') return true;
  return strategy === 'RerunOnFailure' && end === 'failed';
}

/** Crash-loop delay before start number `restartCount + 1`: base x 2^(n-1), capped. */
export function crashLoopDelayMs(restartCount: number, opts: { baseMs: number; maxMs: number }): number {
  if (restartCount <= 0) return 0;
  return Math.min(opts.baseMs * 2 ** (restartCount - 1), opts.maxMs);
}

/** Milliseconds still to wait before the next start after a failure (0 = start now). */
export function backoffRemainingMs(status: VmStatus, now: Date, opts: { baseMs: number; maxMs: number }): number {
  const failedAt = status.lastFailure?.at;
  if (!failedAt) return 0;
  const until = Date.parse(failedAt) + crashLoopDelayMs(status.restartCount ?? 0, opts);
  return Math.max(0, until - now.getTime());
}
