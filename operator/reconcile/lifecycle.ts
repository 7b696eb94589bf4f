/**
 * runStrategy semantics, restart requests and crash-loop backoff. Pure.
 *
 * | runStrategy    | no launcher yet | guest powered off | launcher failed        |
 * | Always         | start           | start again       | start again, backoff   |
 * | RerunOnFailure | start           | stay Stopped      | start again, backoff   |
 * | Once           | start once      | stay Stopped      | stay Stopped           |
 * | Manual         | on request only | stay Stopped      | stay Stopped           |
 * | Halted         | never           | -                 | -                      |
 * "On request" = a spec.restartRequestedAt that differs from the last one honoured
 * (status.lastRestartRequestedAt, or the launcher pod's annotation when that status write was
 * lost); it also restarts a running VM under any strategy but Halted, once.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { RunStrategy, VirtualMachine, VmStatus } from '../../api/schema/vm.js';

/** Annotation on a launcher pod: the restartRequestedAt its start honoured. */
export const RESTART_ANNOTATION = 'kubevmm.io/restart-requested-at';

/** A run this long resets the crash-loop backoff, as the kubelet does after 10 minutes. */
export const HEALTHY_RUN_MS = 10 * 60_000;

/** The launcher pod's record of the request it honoured, if any. */
export function honouredBy(pod: V1Pod | undefined): string | undefined {
  return pod?.metadata?.annotations?.[RESTART_ANNOTATION];
}

/** True when spec.restartRequestedAt asks for a (re)start that has not been honoured yet. */
export function restartRequested(vm: VirtualMachine, status: VmStatus, pod?: V1Pod): boolean {
  const at = vm.spec.restartRequestedAt;
  if (!at || at === status.lastRestartRequestedAt || at === honouredBy(pod)) return false;
  // Objects from before lastRestartRequestedAt existed: a request older than the run is done.
  if (status.lastRestartRequestedAt === undefined && status.startedAt && Date.parse(at) <= Date.parse(status.startedAt)) return false;
  return true;
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

/** Crash-loop delay before start number `failures + 1`: base x 2^(n-1), capped. */
export function crashLoopDelayMs(failures: number, opts: { baseMs: number; maxMs: number }): number {
  if (failures <= 0) return 0;
  return Math.min(opts.baseMs * 2 ** (failures - 1), opts.maxMs);
}

/** Failures in a row that set the backoff (restartCount for objects from before the field). */
export function failuresInARow(status: VmStatus): number {
  return status.consecutiveFailures ?? status.restartCount ?? 0;
}

/** Milliseconds still to wait before the next start after a failure (0 = start now). */
export function backoffRemainingMs(status: VmStatus, now: Date, opts: { baseMs: number; maxMs: number }): number {
  const failedAt = status.lastFailure?.at;
  if (!failedAt) return 0;
  const until = Date.parse(failedAt) + crashLoopDelayMs(failuresInARow(status), opts);
  return Math.max(0, until - now.getTime());
}

/**
 * How long the run that just ended lasted: the launcher container's own start and finish
 * when the kubelet reported them, else from status.startedAt to `now`.
 */
export function runLengthMs(pod: V1Pod | undefined, status: VmStatus, now: Date): number {
  const launcher = pod?.status?.containerStatuses?.find((c) => c.name === 'launcher');
  const ended = launcher?.state?.terminated ?? launcher?.lastState?.terminated;
  const started = ended?.startedAt ?? (status.startedAt ? new Date(status.startedAt) : undefined);
  const finished = ended?.finishedAt ?? now;
  return started ? new Date(finished).getTime() - new Date(started).getTime() : 0;
}
