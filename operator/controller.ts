/**
 * The VirtualMachine controller: reconcile(key) reads the VM, its class, its launcher pod and
 * PVCs from the caches and the API, plans (pure), and executes the plan. Level-triggered: it
 * never looks at what event caused it to run.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { formatIssue } from '../api/issues.js';
import type { VirtualMachineClass } from '../api/schema/class.js';
import type { VirtualMachine, VmStatus } from '../api/schema/vm.js';
import { validateVm } from '../api/validate.js';
import { setCondition } from './reconcile/conditions.js';
import { claimConflicts } from './reconcile/claims.js';
import { planReconcile } from './reconcile/plan.js';
import type { LauncherReport, Observed, ReconcileSettings } from './reconcile/types.js';
import { launcherPodName } from './render/pod.js';
import type { PvcModes } from './render/volumes.js';
import type { ClusterApi } from './kube/client.js';
import { executePlan, forgetToken, launcherToken, type ExecutorDeps } from './kube/executor.js';
import type { HandlerResult } from './queue.js';
import { observeHotplug } from './hotplug-observe.js';

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
}

/** "namespace/name" */
export function vmKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? 'default'}/${name}`;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

async function pvcState(deps: ControllerDeps, vm: VirtualMachine): Promise<{ missing: string[]; modes: PvcModes }> {
  const ns = vm.metadata.namespace ?? 'default';
  const claims = (vm.spec.disks ?? []).filter((d) => d.persistentVolumeClaim && !d.hotpluggable).map((d) => d.persistentVolumeClaim?.claimName ?? '');
  const missing: string[] = [];
  const modes: Record<string, 'Filesystem' | 'Block'> = {};
  for (const claim of claims) {
    const pvc = await deps.api.getPvc(ns, claim);
    if (!pvc) missing.push(claim);
    else modes[claim] = pvc.spec?.volumeMode === 'Block' ? 'Block' : 'Filesystem';
  }
  return { missing, modes };
}

async function launcherReport(deps: ControllerDeps, vm: VirtualMachine, pod: V1Pod | undefined): Promise<LauncherReport | undefined> {
  const ip = pod?.status?.podIP;
  if (!ip || pod?.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp) return undefined;
  return deps.launcher.status(ip, await launcherToken(deps.api, vm));
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

/** Everything planning needs about `vm`, from the caches, the API and its launcher. */
async function observe(deps: ControllerDeps, vm: VirtualMachine, pod: V1Pod | undefined, vmClass: VirtualMachineClass | undefined): Promise<Observed> {
  const pvcs = pod ? { missing: [], modes: {} } : await pvcState(deps, vm);
  const conflicts = pod ? [] : claimConflicts(vm, deps.vms.list(), deps.pods.list());
  const launcher = await launcherReport(deps, vm, pod);
  const running = pod?.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp;
  const hotplug = await observeHotplug(deps, vm, running);
  return {
    vm,
    pod,
    missingPvcs: pvcs.missing,
    pvcModes: pvcs.modes,
    now: deps.now(),
    ...(vmClass ? { vmClass } : {}),
    ...(launcher ? { launcher } : {}),
    ...(hotplug ? { hotplug } : {}),
    ...(conflicts.length ? { claimConflicts: conflicts } : {}),
  };
}

/** Reconciles one VM; the work queue's handler. */
export async function reconcile(deps: ControllerDeps, key: string): Promise<HandlerResult> {
  const [namespace, name] = splitKey(key);
  const cached = deps.vms.get(namespace, name);
  if (!cached) return {}; // deleted: its pod and Secret go with it (owner references)
  if (cached.metadata.deletionTimestamp && !deps.pods.get(namespace, launcherPodName(name))) forgetToken(cached.metadata.uid);
  const classes = new Map(deps.classes.list().map((c) => [c.metadata.name, c]));
  const checked = validateVm(cached, { classes, complete: true });
  if (!checked.value && !cached.metadata.deletionTimestamp) {
    await reportInvalid(deps, cached, checked.issues.map(formatIssue));
    return {};
  }
  const vm = checked.value ?? cached;
  const pod = deps.pods.get(namespace, launcherPodName(name));
  const observed = await observe(deps, vm, pod, vm.spec.className ? classes.get(vm.spec.className) : undefined);
  const plan = planReconcile(observed, deps.settings);
  if (plan.actions.length) deps.log('reconcile', { vm: key, actions: plan.actions.map((a) => a.kind), status: plan.status.printableStatus });
  return executePlan(deps, { vm, ...(pod ? { pod } : {}) }, plan);
}
