/** The launcher pod's state, reduced to what decides a VM's status and next step. Pure. */
import type { V1Pod } from '@kubernetes/client-node';

/** A launcher pod as reconcile sees it. */
export type PodState =
  | { phase: 'none' }
  | { phase: 'deleting' }
  | { phase: 'unschedulable'; message: string }
  | { phase: 'pending'; node?: string }
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

/** The launcher's one-line reason: the container's termination message, else the pod's. */
export function terminationOf(pod: V1Pod): { reason: string; message: string } {
  const terminated = launcherTermination(pod);
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
  return { phase: 'pending', ...(node ? { node } : {}) };
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
