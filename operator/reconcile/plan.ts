/**
 * planReconcile: what one reconcile of one VM does, decided from observed state only.
 * Level-triggered and pure: the same Observed always gives the same Plan; the executor
 * (operator/kube) carries it out and feeds the result back on the next reconcile.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { formatBytes } from '../../api/quantity.js';
import { resolveVm } from '../../api/resolve.js';
import type { VmStatus } from '../../api/schema/vm.js';
import { SPEC_HASH_ANNOTATION, STARTED_AT_ANNOTATION } from '../../api/layout.js';
import { launcherPodName, renderLauncherPod } from '../render/pod.js';
import { conflictMessage } from './claims.js';
import { imageDiskVerdict, planImageDisks } from './image-disks.js';
import { getCondition, setCondition, type ConditionInput } from './conditions.js';
import { diskEvents, planHotplug, planHotplugStopped, wantedDisks, type HotplugPlan } from './hotplug.js';
import { backoffRemainingMs, failuresInARow, HEALTHY_RUN_MS, honouredBy, RESTART_ANNOTATION, restartRequested, restartsAfter, runLengthMs, wantsStart } from './lifecycle.js';
import { bootDisks, podState, type ContainerProblem, type PodState } from './pod-state.js';
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

/** When the launcher pod's run began, as the operator stamped it on the pod at creation. */
function podStartedAt(obs: Observed): string | undefined {
  const stamp = obs.pod?.metadata?.annotations?.[STARTED_AT_ANNOTATION];
  return stamp && !Number.isNaN(Date.parse(stamp)) ? stamp : undefined;
}

/**
 * Status fields that follow from the spec alone, and the run's start from the pod: a pod
 * started after status.startedAt belongs to a run whose start was not written yet (held).
 */
function baseStatus(obs: Observed, settings: ReconcileSettings): VmStatus {
  const resolved = resolveVm(obs.vm, obs.vmClass, settings.config);
  const stamped = podStartedAt(obs);
  const known = obs.vm.status?.startedAt;
  const newer = stamped && (!known || Date.parse(stamped) > Date.parse(known));
  return {
    ...obs.vm.status,
    ...(newer ? { startedAt: stamped } : {}),
    observedGeneration: obs.vm.metadata.generation,
    launcherPod: launcherPodName(obs.vm.metadata.name),
    cpus: resolved.cpu.vcpus,
    memory: formatBytes(resolved.memory.guestBytes),
  };
}

/** The launcher pod the VM should have now. */
function desiredPod(obs: Observed, settings: ReconcileSettings) {
  return renderLauncherPod({ vm: obs.vm, config: settings.config, pvcs: obs.pvcs, ...(obs.vmClass ? { vmClass: obs.vmClass } : {}) });
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
  if (!imageDisksReady(d)) return;
  const startedAt = obs.now.toISOString();
  const pod = withRestartHonoured(d, desiredPod(obs, settings));
  pod.metadata = { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [STARTED_AT_ANNOTATION]: startedAt } };
  d.actions.push({ kind: 'createPod', pod });
  d.status.startedAt = startedAt;
  setPrintable(d, 'Starting');
}

/**
 * The claims of `image` disks must hold their image before the launcher starts: until then
 * the VM is Provisioning, and DisksReady names the disk and what it waits for.
 */
function imageDisksReady(d: Draft): boolean {
  const observed = d.obs.imageDisks;
  if (!observed?.length) return true;
  const plan = planImageDisks(d.obs.vm, observed, { launcherImage: d.settings.config.launcherImage });
  d.actions.push(...plan.actions);
  const verdict = imageDiskVerdict(plan);
  condition(d, verdict.condition);
  if (verdict.ready) return true;
  requeue(d, d.settings.pollMs);
  setPrintable(d, 'Provisioning', verdict.failure);
  return false;
}

/** A launcher pod exists, so it was made with every image disk ready: DisksReady says so. */
function imageDisksHeld(d: Draft): void {
  if (!d.obs.pod || !(d.obs.vm.spec.disks ?? []).some((disk) => disk.image)) return;
  condition(d, { type: 'DisksReady', status: 'True', reason: 'DisksReady', message: '' });
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

/**
 * Counts the run that just failed in status, unless the observed status counts it already, and
 * says whether its pod may go now. The pod waits while its failure is uncounted: this plan's
 * status write brings the next reconcile (or a conflict's retry). A run with no known start
 * (status lost, a pod from before the start stamp) cannot be matched to its record: its pod goes
 * at once rather than never.
 */
function recordFailure(d: Draft, end: Extract<PodState, { phase: 'failed' }>): boolean {
  // The draft's status is the observed one here (with this run's start).
  if (failureCounted(d)) return true;
  const restarts = restartsAfter('failed', d.obs.vm.spec.runStrategy ?? 'Always');
  // A run that lasted HEALTHY_RUN_MS ends the crash loop: the backoff starts over.
  const healthy = runLengthMs(d.obs.pod, d.status, d.obs.now) >= HEALTHY_RUN_MS;
  if (restarts) d.status.consecutiveFailures = healthy ? 1 : failuresInARow(d.status) + 1;
  d.status.restartCount = (d.status.restartCount ?? 0) + (restarts ? 1 : 0);
  d.status.lastFailure = { reason: end.reason, message: end.message, at: d.obs.now.toISOString() };
  return !d.status.startedAt;
}

/**
 * A launcher that ended: its failure is counted, then its pod is deleted when the VM starts
 * again or is Halted. The failed pod is the only record of the failure until status holds it,
 * so it is deleted only once the VM as observed counts the failure: a status write lost to a
 * conflict after the delete would start the VM again with no failure counted and no backoff.
 */
function planEnded(d: Draft, end: Extract<PodState, { phase: 'succeeded' | 'failed' }>): void {
  const strategy = d.obs.vm.spec.runStrategy ?? 'Always';
  const podMayGo = end.phase === 'succeeded' || recordFailure(d, end);
  const again = strategy !== 'Halted' && (restartsAfter(end.phase, strategy) || restartRequested(d.obs.vm, d.status, d.obs.pod));
  if (podMayGo && (again || strategy === 'Halted')) {
    d.actions.push({ kind: 'deletePod', reason: again ? 'restart' : 'halted' });
    if (again) requeue(d, 0);
  }
  if (end.phase === 'failed') return setPrintable(d, again ? 'CrashLoopBackOff' : 'Stopped', { reason: end.reason, message: end.message });
  setPrintable(d, 'Stopped');
}

/** A failure is counted once per run: runs are marked by startedAt. */
function failureCounted(d: Draft): boolean {
  const at = d.status.lastFailure?.at;
  return !!at && !!d.status.startedAt && Date.parse(at) >= Date.parse(d.status.startedAt);
}

/** AgentConnected follows what the launcher says of qemu-guest-agent. */
function agentCondition(d: Draft, connected: boolean): void {
  const wanted = d.obs.vm.spec.devices?.guestAgent !== false;
  condition(d, {
    type: 'AgentConnected',
    status: connected ? 'True' : 'False',
    reason: connected ? 'AgentConnected' : wanted ? 'AgentNotConnected' : 'NoAgentChannel',
    message: connected ? '' : wanted ? 'qemu-guest-agent does not answer in the guest (not installed or not started yet)' : 'spec.devices.guestAgent is false',
  });
}

/** Reads the launcher's report into status and asks for pause/resume to match spec.paused. */
function syncLauncher(d: Draft): void {
  const launcher = d.obs.launcher;
  if (!launcher) {
    // Without a report, the configured accelerator is what runs (auto is only known by the launcher).
    if (d.settings.config.accelerator !== 'auto') d.status.accelerator = d.settings.config.accelerator;
    // A launcher that just started has no agent yet: saying so now makes its first report
    // change nothing, so a quick start still writes status once (ADR 0008).
    if (!getCondition(d.status.conditions, 'AgentConnected')) {
      d.status.guest ??= { agentConnected: false };
      agentCondition(d, false);
    }
    return;
  }
  d.status.accelerator = launcher.accelerator;
  if (launcher.guest) d.status.guest = launcher.guest;
  agentCondition(d, launcher.guest?.agentConnected === true);
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
  guestState(d, pod.ready);
}

/** Paused, Running or Starting, from the launcher's report and the pod's readiness. */
function guestState(d: Draft, podReady: boolean): void {
  const launcher = d.obs.launcher;
  const paused = launcher?.state === 'paused';
  condition(d, { type: 'Paused', status: paused ? 'True' : 'False', reason: paused ? (launcher?.reason ?? 'Paused') : 'NotPaused', message: paused ? (launcher?.message ?? '') : '' });
  if (paused) return setPrintable(d, 'Paused');
  // The launcher's own word that QEMU runs the guest is what the readiness probe reports too,
  // without waiting for the probe's next period.
  setPrintable(d, podReady || launcher?.state === 'running' ? 'Running' : 'Starting');
}

/** Halted or a restart request: the running launcher is deleted (gracefully). */
function stopWanted(d: Draft): boolean {
  const halted = d.obs.vm.spec.runStrategy === 'Halted';
  if (!halted && !restartRequested(d.obs.vm, d.status, d.obs.pod)) return false;
  d.actions.push({ kind: 'deletePod', reason: halted ? 'halted' : 'restart' });
  setPrintable(d, 'Stopping');
  return true;
}

/**
 * What a container problem is about, for people: the disk when the kubelet's message names a
 * containerDisk's image (an image volume that cannot be pulled is reported on the launcher
 * container that mounts it), else the container.
 */
function problemSubject(vm: Observed['vm'], problem: ContainerProblem): string {
  const disk = vm.spec.disks?.find((x) => x.containerDisk && problem.message.includes(`"${x.containerDisk.image}"`));
  return disk?.containerDisk ? `disk ${disk.name} (containerDisk ${disk.containerDisk.image})` : `container ${problem.container}`;
}

/**
 * A scheduled pod whose containers do not start: the kubelet's reason and message become the
 * Failure condition; an image that cannot be pulled has a status of its own, as in KubeVirt.
 */
function planPending(d: Draft, problem: ContainerProblem | undefined): void {
  if (!problem) return setPrintable(d, 'Starting');
  const failure = { reason: problem.reason, message: `${problemSubject(d.obs.vm, problem)}: ${problem.message}` };
  if (problem.reason === 'ErrImagePull' || problem.reason === 'ImagePullBackOff') return setPrintable(d, problem.reason, failure);
  setPrintable(d, 'Starting', failure);
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
      if (pod.node) d.status.nodeName = pod.node;
      return planPending(d, pod.problem);
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

/**
 * Whether the running launcher was built from an older spec, or runs an older launcher image
 * than the operator now deploys (after an upgrade). Either is taken at the next restart; the
 * pod itself is never changed.
 */
function restartRequired(d: Draft): void {
  const pod = d.obs.pod;
  const current = pod?.metadata?.annotations?.[SPEC_HASH_ANNOTATION];
  if (!pod || !current || pod.metadata?.deletionTimestamp) return;
  const stale = desiredPod(d.obs, d.settings).metadata?.annotations?.[SPEC_HASH_ANNOTATION] !== current;
  condition(d, {
    type: 'RestartRequired',
    status: stale ? 'True' : 'False',
    reason: stale ? 'SpecChanged' : 'UpToDate',
    message: stale ? 'the spec changed in a way that needs a restart; set spec.restartRequestedAt to apply it' : '',
  });
  launcherOutdated(d, pod);
}

/** Whether the pod runs another launcher image than the operator now deploys. */
function launcherOutdated(d: Draft, pod: V1Pod): void {
  const running = pod.spec?.containers.find((c) => c.name === 'launcher')?.image;
  const wanted = d.settings.config.launcherImage;
  const outdated = !!running && running !== wanted;
  condition(d, {
    type: 'LauncherOutdated',
    status: outdated ? 'True' : 'False',
    reason: outdated ? 'NewLauncherImage' : 'UpToDate',
    message: outdated ? `the launcher runs ${running}; the VM moves to ${wanted} at its next restart (spec.restartRequestedAt, or stop and start)` : '',
  });
}

const activeFailure = (status: VmStatus | undefined) => status?.conditions?.find((c) => c.type === 'Failure' && c.status === 'True');

/** One Event when the printable status changes, or when a new failure appears under the same status. */
function transitionEvents(before: VmStatus | undefined, after: VmStatus): VmEvent[] {
  if (!after.printableStatus) return [];
  const failure = activeFailure(after);
  const newFailure = !!failure && failure.reason !== activeFailure(before)?.reason;
  if (before?.printableStatus === after.printableStatus && !newFailure) return [];
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
  // Running, not Ready: a paused guest (by the user, or by an I/O error while an export is
  // away) leaves readiness, and its disks' exports must stay or come back for it to resume.
  if (pod.phase === 'running' && !stopping && !obs.vm.metadata.deletionTimestamp && obs.hotplug) {
    const coldDisks = bootDisks(obs.pod);
    plan = planHotplug({ vm: obs.vm, launcherImage: d.settings.config.launcherImage, node: pod.node, obs: obs.hotplug, coldDisks, ...(obs.launcher ? { launcher: obs.launcher } : {}) });
  } else {
    plan = planHotplugStopped(obs.vm, obs.hotplug);
  }
  d.actions.push(...plan.actions);
  if (plan.disks.length) d.status.disks = plan.disks;
  else delete d.status.disks;
  if (plan.pending) requeue(d, d.settings.pollMs);
}

/** Age of the launcher pod in ms, from its creation time (undefined when unknown). */
function podAgeMs(obs: Observed): number | undefined {
  const created = obs.pod?.metadata?.creationTimestamp;
  if (!created) return undefined;
  const ms = obs.now.getTime() - new Date(created as Date | string).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * How long to hold a Starting status back: while the launcher pod is being created or is
 * younger than the hold and not Ready. The pod's own changes trigger the next reconcile, so a
 * launcher Ready within the hold goes straight to Running (one status write, not two).
 */
function startingHold(d: Draft): number | undefined {
  const holdMs = d.settings.startingHoldMs ?? 0;
  if (holdMs <= 0 || d.status.printableStatus !== 'Starting' || d.obs.vm.status?.printableStatus === 'Starting') return undefined;
  if (d.actions.some((a) => a.kind === 'createPod')) return holdMs;
  const age = podAgeMs(d.obs);
  if (age === undefined || age >= holdMs) return undefined;
  // Clock skew between the operator and the API server can only shorten the hold.
  return Math.min(holdMs, Math.max(1, holdMs - age));
}

/** A pod the VM does not own has the launcher's name: nothing starts, and status says why. */
function planForeignPod(d: Draft, message: string): void {
  delete d.status.nodeName;
  delete d.status.interfaces;
  requeue(d, d.settings.pollMs);
  setPrintable(d, 'Stopped', { reason: 'LauncherPodConflict', message });
}

/**
 * The pod's state, corrected by its launcher: a launcher that answered for this VM at the pod's
 * IP (mutual TLS, its certificate names the VM) is running, even while the pod's phase, which
 * the kubelet updates only at its next relist, still says Pending.
 */
function observedPodState(obs: Observed): PodState {
  const state = podState(obs.pod);
  const ip = obs.pod?.status?.podIP;
  if (state.phase !== 'pending' || !obs.launcher || !ip || !state.node) return state;
  return { phase: 'running', ready: false, node: state.node, ip };
}

/** Decides one reconcile of `obs.vm`. */
export function planReconcile(obs: Observed, settings: ReconcileSettings): Plan {
  const d: Draft = { obs, settings, status: baseStatus(obs, settings), actions: [] };
  const pod = observedPodState(obs);
  if (obs.vm.metadata.deletionTimestamp) {
    planDeletion(d, pod);
  } else {
    if (!obs.vm.metadata.finalizers?.includes(FINALIZER)) d.actions.push({ kind: 'addFinalizer' });
    if (obs.foreignPod) planForeignPod(d, obs.foreignPod);
    else planPod(d, pod);
    imageDisksHeld(d);
    restartRequired(d);
  }
  hotplug(d, pod);
  const softwareEmulation = d.status.accelerator === 'tcg';
  condition(d, { type: 'SoftwareEmulation', status: softwareEmulation ? 'True' : 'False', reason: softwareEmulation ? 'TCG' : 'HardwareAccelerated', message: softwareEmulation ? 'the guest runs under QEMU TCG software emulation' : '' });
  const events = [...transitionEvents(obs.vm.status, d.status), ...diskEvents(obs.vm.status?.disks, d.status.disks)];
  const hold = startingHold(d);
  return {
    actions: d.actions,
    status: d.status,
    events,
    ...(d.requeueAfterMs !== undefined ? { requeueAfterMs: d.requeueAfterMs } : {}),
    ...(hold !== undefined ? { holdStatusMs: hold } : {}),
  };
}
