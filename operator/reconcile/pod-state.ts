/** The launcher pod's state, reduced to what decides a VM's status and next step. Pure. */
import type { V1Pod } from '@kubernetes/client-node';
import { BOOT_DISKS_ANNOTATION } from '../../api/layout.js';

/**
 * Why a container of the pod is not running yet, as the kubelet says it: an image that
 * cannot be pulled, a container that cannot be created, an init container that keeps failing.
 */
export interface ContainerProblem {
  container: string;
  /** The kubelet's reason (ErrImagePull, ImagePullBackOff, CreateContainerConfigError, ...). */
  reason: string;
  /** The kubelet's message, which names the image or the missing object. */
  message: string;
}

/** A launcher pod as reconcile sees it. */
export type PodState =
  | { phase: 'none' }
  | { phase: 'deleting' }
  | { phase: 'unschedulable'; message: string }
  | { phase: 'pending'; node?: string; problem?: ContainerProblem }
  | { phase: 'running'; ready: boolean; node: string; ip?: string }
  | { phase: 'succeeded'; message: string }
  | { phase: 'failed'; reason: string; message: string };

function unschedulableMessage(pod: V1Pod): string | undefined {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') return scheduled.message ?? 'no node fits the launcher pod';
  return undefined;
}

function launcherTermination(pod: V1Pod) {
  const launcher = pod.status?.containerStatuses?.find((c) => c.name === 'launcher');
  return launcher?.state?.terminated ?? launcher?.lastState?.terminated;
}

/**
 * Waiting reasons that are a problem rather than progress. ContainerCreating and
 * PodInitializing are progress; these need the user (or the cluster admin) to act.
 */
const WAITING_PROBLEMS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'CrashLoopBackOff',
]);

/** The first container (init containers first, in order) that waits for a reason the user must fix. */
export function containerProblem(pod: V1Pod): ContainerProblem | undefined {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const status of statuses) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && WAITING_PROBLEMS.has(waiting.reason)) {
      return { container: status.name, reason: waiting.reason, message: waiting.message ?? `container ${status.name} is waiting: ${waiting.reason}` };
    }
  }
  return undefined;
}

/** An init container (containerDisk copy, tools) that ended in failure before the launcher ran. */
function failedInitContainer(pod: V1Pod): { reason: string; message: string } | undefined {
  for (const status of pod.status?.initContainerStatuses ?? []) {
    const terminated = status.state?.terminated ?? status.lastState?.terminated;
    if (!terminated || terminated.exitCode === 0) continue;
    const said = (terminated.message ?? '').trim();
    return { reason: 'InitContainerFailed', message: `init container ${status.name} exited with code ${terminated.exitCode}${said ? `: ${said}` : ''}` };
  }
  return undefined;
}

/**
 * The launcher's one-line reason: the container's termination message, else the pod's; when
 * the launcher never ran, the init container that failed.
 */
export function terminationOf(pod: V1Pod): { reason: string; message: string } {
  const terminated = launcherTermination(pod);
  return (!terminated && failedInitContainer(pod)) || launcherEnding(pod, terminated);
}

function launcherEnding(pod: V1Pod, terminated: ReturnType<typeof launcherTermination>): { reason: string; message: string } {
  const message = (terminated?.message ?? pod.status?.message ?? '').trim();
  const [head, ...rest] = message.split(': ');
  // The launcher writes "Reason: message"; anything else is reported whole.
  if (head && rest.length && /^[A-Z][A-Za-z]+$/.test(head)) return { reason: head, message: rest.join(': ') };
  const reason = terminated?.reason ?? pod.status?.reason ?? 'LauncherFailed';
  return { reason, message: message || `launcher exited with code ${terminated?.exitCode ?? 'unknown'}` };
}

function activeState(pod: V1Pod): PodState {
  const node = pod.spec?.nodeName;
  if (pod.status?.phase === 'Running' && node) {
    const ready = pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    return { phase: 'running', ready, node, ...(pod.status.podIP ? { ip: pod.status.podIP } : {}) };
  }
  const unschedulable = unschedulableMessage(pod);
  if (unschedulable !== undefined) return { phase: 'unschedulable', message: unschedulable };
  const problem = containerProblem(pod);
  return { phase: 'pending', ...(node ? { node } : {}), ...(problem ? { problem } : {}) };
}

/** Classifies a launcher pod (undefined = no pod). */
export function podState(pod: V1Pod | undefined): PodState {
  if (!pod) return { phase: 'none' };
  if (pod.metadata?.deletionTimestamp) return { phase: 'deleting' };
  const phase = pod.status?.phase;
  if (phase === 'Succeeded') return { phase: 'succeeded', message: terminationOf(pod).message };
  if (phase === 'Failed') return { phase: 'failed', ...terminationOf(pod) };
  return activeState(pod);
}

/** The disks the pod's launcher booted with (its boot-disks annotation); empty when unknown. */
export function bootDisks(pod: V1Pod | undefined): Set<string> {
  const names = pod?.metadata?.annotations?.[BOOT_DISKS_ANNOTATION];
  return new Set(names ? names.split(',').filter(Boolean) : []);
}

/** How long after its container started (or its pod was created) a launcher is polled eagerly until it says its guest runs. */
export const LAUNCHER_START_WINDOW_MS = 10_000;

function ageMs(time: Date | string | undefined, now: Date): number | undefined {
  return time === undefined ? undefined : now.getTime() - new Date(time).getTime();
}

/** A pod whose sandbox is up (it has an IP), Pending or Running, not Ready and not being deleted. */
function upButNotReady(pod: V1Pod | undefined): pod is V1Pod {
  const phase = pod?.status?.phase;
  if (!pod?.status?.podIP || pod.metadata?.deletionTimestamp || (phase !== 'Running' && phase !== 'Pending')) return false;
  return !pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * A launcher pod with an IP (its sandbox is up) that is not Ready, whose launcher container
 * started, or whose pod was created, less than LAUNCHER_START_WINDOW_MS ago: its control API is
 * about to listen and QEMU about to run, so the operator asks it for its status at short
 * intervals instead of waiting for the kubelet (its next relist to report the container
 * running, its readiness probe's period of a second at the least) or its own back-off.
 */
export function launcherStarting(pod: V1Pod | undefined, now: Date): boolean {
  if (!upButNotReady(pod)) return false;
  const started = pod.status?.containerStatuses?.find((c) => c.name === 'launcher')?.state?.running?.startedAt;
  const age = ageMs((started ?? pod.metadata?.creationTimestamp) as Date | string | undefined, now);
  // The kubelet reports whole seconds: a start up to a second "in the future" is a start now.
  return age !== undefined && age > -1000 && age < LAUNCHER_START_WINDOW_MS;
}
