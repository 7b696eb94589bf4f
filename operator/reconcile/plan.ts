/**
 * planReconcile: what one reconcile of one VM does, decided from observed state only.
 * Level-triggered and pure: the same Observed always gives the same Plan; the executor
 * (operator/kube) carries it out and feeds the result back on the next reconcile.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { formatBytes } from '../../api/quantity.js';
import { resolveVm } from '../../api/resolve.js';
import type { VmStatus } from '../../api/schema/vm.js';
import { SPEC_HASH_ANNOTATION } from '../../api/layout.js';
import { launcherPodName, renderLauncherPod } from '../render/pod.js';
import { conflictMessage } from './claims.js';
import { setCondition, type ConditionInput } from './conditions.js';
import { diskEvents, planHotplug, planHotplugStopped, wantedDisks, type HotplugPlan } from './hotplug.js';
import { backoffRemainingMs, failuresInARow, HEALTHY_RUN_MS, honouredBy, RESTART_ANNOTATION, restartRequested, restartsAfter, runLengthMs, wantsStart } from './lifecycle.js';
import { podState, type PodState } from './pod-state.js';
import { FINALIZER, type Action, type Observed, type Plan, type ReconcileSettings, type VmEvent } from './types.js';

/** The working state of one planning pass. */
interface Draft {
  obs: Observed;
  settings: ReconcileSettings;
  status: VmStatus;
  actions: Action[];
  requeueAfterMs?: number;
}

function condition(d: Draft, next: ConditionInput): void {
  d.status.conditions = setCondition(d.status.conditions, next, { now: d.obs.now, generation: d.obs.vm.metadata.generation });
}

function requeue(d: Draft, ms: number): void {
  d.requeueAfterMs = Math.min(d.requeueAfterMs ?? ms, ms);
}

/** Status fields that follow from the spec alone. */
function baseStatus(obs: Observed, settings: ReconcileSettings): VmStatus {
  const resolved = resolveVm(obs.vm, obs.vmClass, settings.config);
  return {
    ...obs.vm.status,
    observedGeneration: obs.vm.metadata.generation,
    launcherPod: launcherPodName(obs.vm.metadata.name),
    cpus: resolved.cpu.vcpus,
    memory: formatBytes(resolved.memory.guestBytes),
  };
}

/** The launcher pod the VM should have now. */
function desiredPod(obs: Observed, settings: ReconcileSettings) {
  return renderLauncherPod({ vm: obs.vm, config: settings.config, pvcModes: obs.pvcModes, ...(obs.vmClass ? { vmClass: obs.vmClass } : {}) });
}

function setPrintable(d: Draft, printable: NonNullable<VmStatus['printableStatus']>, failure?: { reason: string; message: string }): void {
  d.status.printableStatus = printable;
  const running = printable === 'Running';
  condition(d, { type: 'Ready', status: running ? 'True' : 'False', reason: running ? 'GuestRunning' : printable, message: running ? 'the guest is running' : `the VM is ${printable}` });
  condition(d, failure ? { type: 'Failure', status: 'True', ...failure } : { type: 'Failure', status: 'False', reason: 'NoFailure', message: '' });
}

function planStart(d: Draft): void {
  const { obs, settings } = d;
  // No launcher: nothing runs anywhere, so no node and no address either.
  delete d.status.nodeName;
  delete d.status.interfaces;
  if (!wantsStart(obs.vm, d.status)) return setPrintable(d, 'Stopped');
  const wait = backoffRemainingMs(d.status, obs.now, { baseMs: settings.crashLoopBaseMs, maxMs: settings.crashLoopMaxMs });
  if (wait > 0) {
    requeue(d, wait);
    const last = d.status.lastFailure;
    return setPrintable(d, 'CrashLoopBackOff', { reason: last?.reason || 'LauncherFailed', message: `${last?.message ?? ''}; next start in ${Math.ceil(wait / 1000)}s` });
  }
  if (obs.claimConflicts?.length) {
    requeue(d, settings.pollMs);
    return setPrintable(d, 'ErrorPvcInUse', { reason: 'PvcInUse', message: conflictMessage(obs.claimConflicts) });
  }
  if (obs.missingPvcs.length) {
    requeue(d, settings.pollMs);
    const names = obs.missingPvcs.join(', ');
    return setPrintable(d, 'ErrorPvcNotFound', { reason: 'PvcNotFound', message: `PersistentVolumeClaim ${names} not found in namespace ${obs.vm.metadata.namespace ?? 'default'}; create it` });
  }
  d.actions.push({ kind: 'createPod', pod: withRestartHonoured(d, desiredPod(obs, settings)) });
  d.status.startedAt = obs.now.toISOString();
  setPrintable(d, 'Starting');
}

/**
 * A new launcher honours the restart request standing at its start (one made before the
 * start is satisfied by it): recorded in status and on the pod, so a lost status write
 * cannot make the next reconcile restart the VM again.
 */
function withRestartHonoured(d: Draft, pod: V1Pod): V1Pod {
  const at = d.obs.vm.spec.restartRequestedAt;
  if (!at) return pod;
  d.status.lastRestartRequestedAt = at;
  return { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [RESTART_ANNOTATION]: at } } };
}

function recordFailure(d: Draft, end: Extract<PodState, { phase: 'failed' }>): void {
  if (failureCounted(d)) return;
  const restarts = restartsAfter('failed', d.obs.vm.spec.runStrategy ?? 'Always');
  // A run that lasted HEALTHY_RUN_MS ends the crash loop: the backoff starts over.
  const healthy = runLengthMs(d.obs.pod, d.status, d.obs.now) >= HEALTHY_RUN_MS;
  if (restarts) d.status.consecutiveFailures = healthy ? 1 : failuresInARow(d.status) + 1;
  d.status.restartCount = (d.status.restartCount ?? 0) + (restarts ? 1 : 0);
  d.status.lastFailure = { reason: end.reason, message: end.message, at: d.obs.now.toISOString() };
}

function planEnded(d: Draft, end: Extract<PodState, { phase: 'succeeded' | 'failed' }>): void {
  const strategy = d.obs.vm.spec.runStrategy ?? 'Always';
  if (end.phase === 'failed') recordFailure(d, end);
  const again = strategy !== 'Halted' && (restartsAfter(end.phase, strategy) || restartRequested(d.obs.vm, d.status, d.obs.pod));
  if (again || strategy === 'Halted') d.actions.push({ kind: 'deletePod', reason: again ? 'restart' : 'halted' });
  if (again) requeue(d, 0);
  if (end.phase === 'failed') return setPrintable(d, again ? 'CrashLoopBackOff' : 'Stopped', { reason: end.reason, message: end.message });
  setPrintable(d, 'Stopped');
}

/** A failure is counted once per run: runs are marked by startedAt. */
function failureCounted(d: Draft): boolean {
  const at = d.status.lastFailure?.at;
  return !!at && !!d.status.startedAt && Date.parse(at) >= Date.parse(d.status.startedAt);
}

/** Reads the launcher's report into status and asks for pause/resume to match spec.paused. */
function syncLauncher(d: Draft): void {
  const launcher = d.obs.launcher;
  if (!launcher) {
    // Without a report, the configured accelerator is what runs (auto is only known by the launcher).
    if (d.settings.config.accelerator !== 'auto') d.status.accelerator = d.settings.config.accelerator;
    return;
  }
  d.status.accelerator = launcher.accelerator;
  if (launcher.guest) d.status.guest = launcher.guest;
  const paused = d.obs.vm.spec.paused ?? false;
  if (paused && launcher.state === 'running') d.actions.push({ kind: 'pause' });
  // An I/O-error pause is the launcher's to lift (it retries); resuming here would fight it.
  if (!paused && launcher.state === 'paused' && launcher.reason !== 'IoError') d.actions.push({ kind: 'resume' });
}

function planRunning(d: Draft, pod: Extract<PodState, { phase: 'running' }>): void {
  d.status.nodeName = pod.node;
  // The pod says which request its start honoured: repairs a status write that was lost.
  const honoured = honouredBy(d.obs.pod);
  if (honoured && honoured === d.obs.vm.spec.restartRequestedAt) d.status.lastRestartRequestedAt = honoured;
  if (pod.ip) d.status.interfaces = [{ name: 'default', ipAddress: pod.ip }];
  if (stopWanted(d)) return;
  syncLauncher(d);
  const launcher = d.obs.launcher;
  const paused = launcher?.state === 'paused';
  condition(d, { type: 'Paused', status: paused ? 'True' : 'False', reason: paused ? (launcher?.reason ?? 'Paused') : 'NotPaused', message: paused ? (launcher?.message ?? '') : '' });
  if (paused) return setPrintable(d, 'Paused');
  setPrintable(d, pod.ready ? 'Running' : 'Starting');
}

/** Halted or a restart request: the running launcher is deleted (gracefully). */
function stopWanted(d: Draft): boolean {
  const halted = d.obs.vm.spec.runStrategy === 'Halted';
  if (!halted && !restartRequested(d.obs.vm, d.status, d.obs.pod)) return false;
  d.actions.push({ kind: 'deletePod', reason: halted ? 'halted' : 'restart' });
  setPrintable(d, 'Stopping');
  return true;
}

function planPod(d: Draft, pod: PodState): void {
  switch (pod.phase) {
    case 'none':
      return planStart(d);
    case 'deleting':
      return setPrintable(d, 'Stopping');
    case 'unschedulable':
      if (stopWanted(d)) return;
      return setPrintable(d, 'ErrorUnschedulable', { reason: 'Unschedulable', message: pod.message });
    case 'pending':
      if (stopWanted(d)) return;
      return setPrintable(d, 'Starting');
    case 'running':
      return planRunning(d, pod);
    default:
      return planEnded(d, pod);
  }
}

function planDeletion(d: Draft, pod: PodState): void {
  if (pod.phase === 'none') {
    if (d.obs.vm.metadata.finalizers?.includes(FINALIZER)) d.actions.push({ kind: 'removeFinalizer' });
    return setPrintable(d, 'Terminating');
  }
  if (pod.phase !== 'deleting') d.actions.push({ kind: 'deletePod', reason: 'vm-deleted' });
  setPrintable(d, 'Terminating');
}

/** Whether the running launcher was built from an older spec (the pod itself is never changed). */
function restartRequired(d: Draft): void {
  const pod = d.obs.pod;
  const current = pod?.metadata?.annotations?.[SPEC_HASH_ANNOTATION];
  if (!current || pod?.metadata?.deletionTimestamp) return;
  const stale = desiredPod(d.obs, d.settings).metadata?.annotations?.[SPEC_HASH_ANNOTATION] !== current;
  condition(d, {
    type: 'RestartRequired',
    status: stale ? 'True' : 'False',
    reason: stale ? 'SpecChanged' : 'UpToDate',
    message: stale ? 'the spec changed in a way that needs a restart; set spec.restartRequestedAt to apply it' : '',
  });
}

function transitionEvents(before: VmStatus | undefined, after: VmStatus): VmEvent[] {
  if (before?.printableStatus === after.printableStatus || !after.printableStatus) return [];
  const failure = after.conditions?.find((c) => c.type === 'Failure' && c.status === 'True');
  return [
    {
      type: failure ? 'Warning' : 'Normal',
      reason: after.printableStatus,
      message: failure ? `${failure.reason}: ${failure.message}` : `VM is ${after.printableStatus}`,
    },
  ];
}

/** Hotplug disks: planned while the launcher runs and stays; otherwise they wait (pure). */
function hotplug(d: Draft, pod: PodState): void {
  const { obs } = d;
  if (!obs.hotplug && !wantedDisks(obs.vm).length && !obs.vm.status?.disks?.length) return;
  const stopping = d.actions.some((a) => a.kind === 'deletePod');
  let plan: HotplugPlan;
  if (pod.phase === 'running' && pod.ready && !stopping && !obs.vm.metadata.deletionTimestamp && obs.hotplug) {
    plan = planHotplug({ vm: obs.vm, launcherImage: d.settings.config.launcherImage, node: pod.node, obs: obs.hotplug, ...(obs.launcher ? { launcher: obs.launcher } : {}) });
  } else {
    plan = planHotplugStopped(obs.vm, obs.hotplug);
  }
  d.actions.push(...plan.actions);
  if (plan.disks.length) d.status.disks = plan.disks;
  else delete d.status.disks;
  if (plan.pending) requeue(d, d.settings.pollMs);
}

/** Decides one reconcile of `obs.vm`. */
export function planReconcile(obs: Observed, settings: ReconcileSettings): Plan {
  const d: Draft = { obs, settings, status: baseStatus(obs, settings), actions: [] };
  const pod = podState(obs.pod);
  if (obs.vm.metadata.deletionTimestamp) {
    planDeletion(d, pod);
  } else {
    if (!obs.vm.metadata.finalizers?.includes(FINALIZER)) d.actions.push({ kind: 'addFinalizer' });
    planPod(d, pod);
    restartRequired(d);
  }
  hotplug(d, pod);
  const softwareEmulation = d.status.accelerator === 'tcg';
  condition(d, { type: 'SoftwareEmulation', status: softwareEmulation ? 'True' : 'False', reason: softwareEmulation ? 'TCG' : 'HardwareAccelerated', message: softwareEmulation ? 'the guest runs under QEMU TCG software emulation' : '' });
  const events = [...transitionEvents(obs.vm.status, d.status), ...diskEvents(obs.vm.status?.disks, d.status.disks)];
  return { actions: d.actions, status: d.status, events, ...(d.requeueAfterMs !== undefined ? { requeueAfterMs: d.requeueAfterMs } : {}) };
}
