/**
 * The VirtualMachine controller: reconcile(key) reads the VM, its class, its launcher pod and
 * PVCs from the caches and the API, plans (pure), and executes the plan. Level-triggered: it
 * never looks at what event caused it to run.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { formatIssue } from '../api/issues.js';
import { vmImageDiskClaim } from '../api/claims.js';
import type { VirtualMachineClass } from '../api/schema/class.js';
import type { VirtualMachineImage } from '../api/schema/image.js';
import type { VirtualMachine, VmStatus } from '../api/schema/vm.js';
import { validateVm } from '../api/validate.js';
import { setCondition } from './reconcile/conditions.js';
import { claimConflicts } from './reconcile/claims.js';
import { planReconcile } from './reconcile/plan.js';
import { foreignPodMessage, ownedByVm } from './reconcile/ownership.js';
import { launcherStarting } from './reconcile/pod-state.js';
import type { Action, LauncherStatus, Observed, ReconcileSettings } from './reconcile/types.js';
import { launcherPodName } from './render/pod.js';
import type { PvcInfo } from './render/volumes.js';
import type { ClusterApi } from './kube/client.js';
import { executePlan, type ExecutorDeps } from './kube/executor.js';
import type { HandlerResult } from './queue.js';
import { observeHotplug, pvcInfo } from './hotplug-observe.js';
import { observeImageDisks } from './image-observe.js';
import type { LauncherReach } from './launcher-reach.js';
import type { Expectations } from './expectations.js';

/** Read access to a cache of objects (an informer's store). */
export interface Store<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(): T[];
}

/** What the controller reads and writes through. */
export interface ControllerDeps extends ExecutorDeps {
  api: ClusterApi;
  vms: Store<VirtualMachine>;
  classes: Store<VirtualMachineClass>;
  pods: Store<V1Pod>;
  settings: ReconcileSettings;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** Tracks launchers that run but do not answer (a metric and an alert); optional in tests. */
  reach?: LauncherReach;
  /** VirtualMachineImages (image disks); optional in tests without images. */
  images?: Store<VirtualMachineImage>;
  /** Launcher pods created but not in the cache yet; optional in tests. */
  expectations?: Expectations;
  /** VMs whose finalizer the operator added but the VM cache does not show yet; optional in tests. */
  finalizers?: Expectations;
}

const NO_IMAGES: Store<VirtualMachineImage> = { get: () => undefined, list: () => [] };

/** "namespace/name" */
export function vmKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? 'default'}/${name}`;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

async function pvcState(deps: ControllerDeps, vm: VirtualMachine): Promise<{ missing: string[]; infos: Record<string, PvcInfo> }> {
  const ns = vm.metadata.namespace ?? 'default';
  const claims = (vm.spec.disks ?? []).filter((d) => d.persistentVolumeClaim && !d.hotpluggable).map((d) => d.persistentVolumeClaim?.claimName ?? '');
  // An image disk's claim is the operator's to make: not "missing", but its mode shapes the pod.
  const imageClaims = (vm.spec.disks ?? []).filter((d) => d.image).map((d) => vmImageDiskClaim(vm.metadata.name, d.name));
  const missing: string[] = [];
  const infos: Record<string, PvcInfo> = {};
  for (const claim of [...claims, ...imageClaims]) {
    const pvc = await deps.api.getPvc(ns, claim);
    if (pvc) infos[claim] = pvcInfo(pvc);
    else if (claims.includes(claim)) missing.push(claim);
  }
  return { missing, infos };
}

/** The pod IP of a running launcher that is not being deleted. */
function runningIp(pod: V1Pod | undefined): string | undefined {
  return pod?.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp ? pod.status.podIP : undefined;
}

/** Where to ask the launcher: a running pod's IP, or a starting one's before the kubelet reports it running. */
function launcherIp(pod: V1Pod | undefined, now: Date): string | undefined {
  return runningIp(pod) ?? (launcherStarting(pod, now) ? pod?.status?.podIP : undefined);
}

async function launcherReport(deps: ControllerDeps, vm: VirtualMachine, pod: V1Pod | undefined): Promise<LauncherStatus | undefined> {
  const ip = launcherIp(pod, deps.now());
  if (!ip) return undefined;
  const key = vmKey(vm.metadata.namespace, vm.metadata.name);
  try {
    const seen = await deps.launcher.status({ ip, vmUid: vm.metadata.uid ?? '' }, { eager: launcherStarting(pod, deps.now()) });
    const notAfter = seen?.certificateNotAfter;
    if (notAfter && (await deps.credentials.renewIfDue(vm, notAfter))) deps.log('launcher certificate renewed', { vm: key, notAfter: notAfter.toISOString() });
    return seen?.status;
  } catch (err) {
    // Refused TLS, an error status or an answer off the contract: said once per quiet period,
    // and the reconcile goes on from the pod's own state.
    deps.log('launcher status unusable', { vm: key, err: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/** An invalid spec is terminal: reported in status, not retried, and nothing is started. */
async function reportInvalid(deps: ControllerDeps, vm: VirtualMachine, messages: string[]): Promise<void> {
  const message = messages.join('; ');
  const status: VmStatus = {
    ...vm.status,
    printableStatus: vm.status?.printableStatus ?? 'Stopped',
    observedGeneration: vm.metadata.generation,
    conditions: setCondition(vm.status?.conditions, { type: 'Failure', status: 'True', reason: 'InvalidSpec', message }, { now: deps.now(), generation: vm.metadata.generation }),
  };
  await executePlan(deps, { vm }, { actions: [], status, events: vm.status?.conditions?.some((c) => c.reason === 'InvalidSpec' && c.message === message) ? [] : [{ type: 'Warning', reason: 'InvalidSpec', message }] });
}

/** A pod of the right name that the VM does not own is neither started over, used nor deleted. */
function ownPod(found: V1Pod | undefined, vm: VirtualMachine): { pod?: V1Pod; foreignPod?: string } {
  if (!found) return {};
  return ownedByVm(found, vm) ? { pod: found } : { foreignPod: foreignPodMessage(found, vm) };
}

/** Tracks a launcher that runs but gave no status (a metric and an alert), logged once when it starts. */
function noteReach(deps: ControllerDeps, vm: VirtualMachine, pod: V1Pod | undefined, unreachable: boolean): void {
  const key = vmKey(vm.metadata.namespace, vm.metadata.name);
  if (deps.reach?.record(key, !unreachable)) deps.log('launcher unreachable: its pod runs but its control API gave no status', { vm: key, ip: pod?.status?.podIP });
}

/** Everything planning needs about `vm`, from the caches, the API and its launcher. */
async function observe(deps: ControllerDeps, vm: VirtualMachine, found: V1Pod | undefined, vmClass: VirtualMachineClass | undefined): Promise<Observed> {
  const { pod, foreignPod } = ownPod(found, vm);
  const pvcs = pod ? { missing: [], infos: {} } : await pvcState(deps, vm);
  const conflicts = pod ? [] : claimConflicts(vm, deps.vms.list(), deps.pods.list());
  const launcher = await launcherReport(deps, vm, pod);
  const running = !!runningIp(pod);
  noteReach(deps, vm, pod, running && !launcher);
  const hotplug = await observeHotplug(deps, vm, running);
  // Image disks matter before a start only: a running launcher has its claims already.
  const imageDisks = pod || vm.metadata.deletionTimestamp ? undefined : await observeImageDisks({ api: deps.api, images: deps.images ?? NO_IMAGES, pods: deps.pods }, vm);
  return {
    vm,
    pod,
    missingPvcs: pvcs.missing,
    pvcs: pvcs.infos,
    now: deps.now(),
    ...(vmClass ? { vmClass } : {}),
    ...(foreignPod ? { foreignPod } : {}),
    ...(launcher ? { launcher } : {}),
    ...(hotplug ? { hotplug } : {}),
    ...(conflicts.length ? { claimConflicts: conflicts } : {}),
    ...(imageDisks ? { imageDisks } : {}),
  };
}

/** A VM gone from the cache: forget what was tracked for it (its pod and Secret go by owner references). */
function forgetVm(deps: ControllerDeps, key: string): HandlerResult {
  deps.reach?.forget(key);
  deps.expectations?.seen(key);
  deps.finalizers?.seen(key);
  return {};
}

/** The writes of a plan that the caches echo back: a new launcher pod, the VM's finalizer. */
function ownWrites(actions: readonly Action[]): { creates: boolean; finalizes: boolean } {
  return { creates: actions.some((a) => a.kind === 'createPod'), finalizes: actions.some((a) => a.kind === 'addFinalizer') };
}

/** True while a write this plan would repeat is still on its way to the caches. */
function awaitingCache(deps: ControllerDeps, key: string, writes: { creates: boolean; finalizes: boolean }): boolean {
  return Boolean((writes.creates && deps.expectations?.pending(key)) || (writes.finalizes && deps.finalizers?.pending(key)));
}

/** Plans and carries out one reconcile of a valid (or deleted) VM and its launcher pod. */
async function reconcileVm(deps: ControllerDeps, key: string, vm: VirtualMachine, classes: Map<string, VirtualMachineClass>): Promise<HandlerResult> {
  const pod = deps.pods.get(vm.metadata.namespace, launcherPodName(vm.metadata.name));
  if (pod) deps.expectations?.seen(key);
  const observed = await observe(deps, vm, pod, vm.spec.className ? classes.get(vm.spec.className) : undefined);
  const plan = planReconcile(observed, deps.settings);
  const writes = ownWrites(plan.actions);
  if (!writes.finalizes) deps.finalizers?.seen(key);
  // What this operator just wrote is on its way to the caches: wait for it, do not write it
  // twice (a second pod, or a finalizer patch at the old resourceVersion: a 409 and a retry).
  if (awaitingCache(deps, key, writes)) return { requeueAfterMs: 1000, lane: 'high' };
  if (plan.actions.length) deps.log('reconcile', { vm: key, actions: plan.actions.map((a) => a.kind), status: plan.status.printableStatus });
  // Only an owned pod is acted on (its IP, its deletion): observe left a foreign one out.
  const result = await executePlan(deps, { vm, ...(observed.pod ? { pod: observed.pod } : {}) }, plan);
  if (writes.creates) deps.expectations?.expect(key);
  if (writes.finalizes) deps.finalizers?.expect(key);
  return withLauncherRetry(deps, observed, result);
}

/** Reconciles one VM; the work queue's handler. */
export async function reconcile(deps: ControllerDeps, key: string): Promise<HandlerResult> {
  const [namespace, name] = splitKey(key);
  const cached = deps.vms.get(namespace, name);
  if (!cached) return forgetVm(deps, key);
  if (cached.metadata.deletionTimestamp && !deps.pods.get(namespace, launcherPodName(name))) deps.credentials.forget(cached.metadata.uid);
  const classes = new Map(deps.classes.list().map((c) => [c.metadata.name, c]));
  const checked = validateVm(cached, { classes, complete: true });
  if (!checked.value && !cached.metadata.deletionTimestamp) {
    await reportInvalid(deps, cached, checked.issues.map(formatIssue));
    return {};
  }
  return reconcileVm(deps, key, checked.value ?? cached, classes);
}

/** How often a launcher that has just started is asked whether its guest runs. */
const STARTING_POLL_MS = 200;

/**
 * A launcher that has just started is asked again every STARTING_POLL_MS until its guest runs
 * (Running does not wait for the readiness probe). A running launcher that gave no report (not
 * listening yet, or busy) is asked again once its quiet time ends: what waits on it (pause,
 * resume, hotplug, guest info) must not wait for the next resync.
 */
function withLauncherRetry(deps: ControllerDeps, observed: Observed, result: HandlerResult): HandlerResult {
  const ip = launcherIp(observed.pod, deps.now());
  if (!ip) return result;
  const guestStarting = !observed.launcher || observed.launcher.state === 'starting';
  if (guestStarting && launcherStarting(observed.pod, deps.now())) {
    return { ...result, requeueAfterMs: Math.min(result.requeueAfterMs ?? STARTING_POLL_MS, STARTING_POLL_MS) };
  }
  if (observed.launcher) return result;
  const retry = Math.max(250, deps.launcher.quietRemainingMs(ip));
  return { ...result, requeueAfterMs: Math.min(result.requeueAfterMs ?? retry, retry) };
}
