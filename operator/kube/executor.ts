/**
 * Carries out a reconcile Plan against the cluster, in order: finalizer, credentials Secret,
 * launcher pod (server-side apply), deletions, pause/resume, then status and Events.
 * A write the API server refuses is reported in status and an Event (refusal.ts) and
 * retried with backoff; the status write itself is guarded by the VM's resourceVersion.
 */
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { DISK_LABEL } from '../../api/layout.js';
import { API_VERSION } from '../../api/schema/common.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { FINALIZER, type Action, type Plan, type VmEvent } from '../reconcile/types.js';
import { launcherPodName } from '../render/pod.js';
import { POPULATED_ANNOTATION } from '../render/image-claims.js';
import { credentialsSecretName } from '../render/volumes.js';
import { statusCode, type ClusterApi } from './client.js';
import type { LauncherClient } from './launcher-client.js';
import type { LauncherCredentials } from './launcher-credentials.js';
import type { LauncherNetworkPolicies } from './network-policy.js';
import { isNamespaceTerminating, refusalEvents, refusalOf, refusedStatus, writing, WriteError, WriteRefusedError, type Refusal } from './refusal.js';
import { statusPatch } from './status-patch.js';

export { isNamespaceTerminating } from './refusal.js';

/** What the executor needs. */
export interface ExecutorDeps {
  api: ClusterApi;
  launcher: LauncherClient;
  /** Writes the VMs' credentials Secrets (never reads them). */
  credentials: LauncherCredentials;
  /** launcherNetworkPolicy mode: the namespace's NetworkPolicies; absent when off. */
  networkPolicies?: LauncherNetworkPolicies;
  /** Polling interval while a quota blocks the pod. */
  quotaRetryMs: number;
  now: () => Date;
}

/** The outcome: when to look at the VM again, and in which lane of the queue. */
export interface ExecResult {
  requeueAfterMs?: number;
  lane?: 'high' | 'normal';
}

const objectName = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;

async function createPod(deps: ExecutorDeps, vm: VirtualMachine, pod: V1Pod): Promise<void> {
  // The credentials first: the pod's Secret volume waits for them, and only a pod the
  // operator itself creates for this VM ever names them.
  const ns = vm.metadata.namespace ?? 'default';
  await writing({ kind: 'CredentialsSecret', object: `${ns}/${credentialsSecretName(vm.metadata.name)}` }, () => deps.credentials.ensure(vm));
  await deps.networkPolicies?.ensure(ns);
  await writing({ kind: 'LauncherPod', object: objectName(pod) }, () => deps.api.applyPod(pod));
}

type LauncherAction = Extract<Action, { kind: 'pause' | 'resume' | 'attachDisk' | 'detachDisk' }>;

async function launcherAction(deps: ExecutorDeps, vm: VirtualMachine, pod: V1Pod | undefined, action: LauncherAction): Promise<void> {
  const ip = pod?.status?.podIP;
  if (!ip) throw new Error(`cannot ${action.kind}: launcher pod has no IP yet`);
  const target = { ip, vmUid: vm.metadata.uid ?? '' };
  if (action.kind === 'attachDisk') return deps.launcher.attach(target, action.request);
  if (action.kind === 'detachDisk') return deps.launcher.detach(target, action.name);
  await (action.kind === 'pause' ? deps.launcher.pause(target) : deps.launcher.resume(target));
}

/** The launcher pod the plan saw, not whichever pod has its name by now. */
function deleteLauncher(deps: ExecutorDeps, vm: VirtualMachine, pod: V1Pod | undefined): Promise<void> {
  return deps.api.deletePod(vm.metadata.namespace ?? 'default', launcherPodName(vm.metadata.name), pod?.metadata?.uid);
}

/** The headless Service first (idempotent), then the attachment pod. */
async function createAttachment(deps: ExecutorDeps, action: Extract<Action, { kind: 'createAttachment' }>): Promise<void> {
  const disk = action.pod.metadata?.labels?.[DISK_LABEL];
  await writing({ kind: 'HotplugService', object: objectName(action.service), ...(disk ? { disk } : {}) }, () => deps.api.applyService(action.service));
  await writing({ kind: 'AttachmentPod', object: objectName(action.pod), ...(disk ? { disk } : {}) }, () => deps.api.applyPod(action.pod));
}

/**
 * An image disk's claim (created; one of that name already there is looked at again on the
 * next reconcile, never taken over), its copy pod (after the VM's credentials, which it serves
 * its progress with), and the mark that the copy finished.
 */
async function imageDiskAction(deps: ExecutorDeps, vm: VirtualMachine, action: Extract<Action, { kind: 'createDiskClaim' | 'createCopyPod' | 'markPopulated' }>): Promise<void> {
  const ns = vm.metadata.namespace ?? 'default';
  if (action.kind === 'createDiskClaim') {
    await writing({ kind: 'DiskClaim', object: objectName(action.claim) }, () => deps.api.createPvc(action.claim));
  } else if (action.kind === 'createCopyPod') {
    await writing({ kind: 'CredentialsSecret', object: `${ns}/${credentialsSecretName(vm.metadata.name)}` }, () => deps.credentials.ensure(vm));
    await writing({ kind: 'CopyPod', object: objectName(action.pod) }, () => deps.api.applyPod(action.pod));
  } else {
    await writing({ kind: 'DiskClaim', object: `${ns}/${action.claimName}` }, () => deps.api.annotatePvc(ns, action.claimName, { [POPULATED_ANNOTATION]: 'copy' }));
  }
}

async function run(deps: ExecutorDeps, ctx: { vm: VirtualMachine; pod?: V1Pod }, action: Action): Promise<VirtualMachine> {
  const { vm } = ctx;
  const ns = vm.metadata.namespace ?? 'default';
  switch (action.kind) {
    case 'addFinalizer':
      return deps.api.patchVmFinalizers(vm, [...(vm.metadata.finalizers ?? []), FINALIZER]);
    case 'removeFinalizer':
      return deps.api.patchVmFinalizers(vm, (vm.metadata.finalizers ?? []).filter((f) => f !== FINALIZER));
    case 'createPod':
      await createPod(deps, vm, action.pod);
      return vm;
    case 'deletePod':
      await deleteLauncher(deps, vm, ctx.pod);
      return vm;
    case 'createAttachment':
      await createAttachment(deps, action);
      return vm;
    case 'deleteAttachment':
    case 'deleteCopyPod':
      await deps.api.deletePod(ns, action.name);
      return vm;
    case 'createDiskClaim':
    case 'createCopyPod':
    case 'markPopulated':
      await imageDiskAction(deps, vm, action);
      return vm;
    default:
      await launcherAction(deps, vm, ctx.pod, action);
      return vm;
  }
}

/**
 * An Event on a kubevmm object (a VM, an image): the operator as its source, once (no
 * aggregation: each transition is its own Event).
 */
export function eventFor(kind: 'VirtualMachine' | 'VirtualMachineImage', obj: { metadata: { name: string; namespace?: string; uid?: string } }, e: VmEvent, now: Date): CoreV1Event {
  const ns = obj.metadata.namespace ?? 'default';
  return {
    metadata: { generateName: `${obj.metadata.name}.`, namespace: ns },
    involvedObject: { apiVersion: API_VERSION, kind, name: obj.metadata.name, namespace: ns, uid: obj.metadata.uid ?? '' },
    type: e.type,
    reason: e.reason,
    message: e.message,
    source: { component: 'kubevmm-operator' },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/** Runs the actions in order; a refused write is kept and the remaining actions still run. */
async function runActions(deps: ExecutorDeps, ctx: { vm: VirtualMachine; pod?: V1Pod }, actions: readonly Action[]): Promise<{ vm: VirtualMachine; refusals: Refusal[] } | undefined> {
  let vm = ctx.vm;
  const refusals: Refusal[] = [];
  for (const action of actions) {
    try {
      vm = await run(deps, { vm, ...(ctx.pod ? { pod: ctx.pod } : {}) }, action);
    } catch (err) {
      // The namespace controller is deleting everything in it: starting anything is moot,
      // and the VM's own deletion will come through the informer.
      if (isNamespaceTerminating(err)) return undefined;
      const refusal = refusalOf(err);
      if (!refusal) throw err instanceof WriteError ? err.cause : err;
      refusals.push(refusal);
    }
  }
  return { vm, refusals };
}

/**
 * Writes status (guarded by resourceVersion) and Events; undefined, or a retry after a
 * conflict. `before` is the VM as the cache had it, `vm` as the actions left it.
 */
async function writeStatus(deps: ExecutorDeps, vms: { before: VirtualMachine; vm: VirtualMachine }, plan: Plan, refusals: readonly Refusal[]): Promise<ExecResult | undefined> {
  const { before, vm } = vms;
  let status = plan.status;
  let events: VmEvent[] = plan.events;
  for (const r of refusals) status = refusedStatus(status, r, deps.now());
  if (refusals.length) events = refusalEvents(before.status, status);
  const patch = statusPatch(before.status, status);
  if (patch && !plan.actions.some((a) => a.kind === 'removeFinalizer')) {
    try {
      await deps.api.patchVmStatus(vm, patch);
    } catch (err) {
      if (statusCode(err) === 409) return { requeueAfterMs: CONFLICT_RETRY_MS };
      throw err;
    }
  }
  for (const e of events) {
    // An Event in a namespace being deleted cannot be written and would only be retried.
    await deps.api.createEvent(eventFor('VirtualMachine', vm, e, deps.now())).catch((err: unknown) => {
      if (!isNamespaceTerminating(err)) throw err;
    });
  }
  return undefined;
}

/**
 * Executes `plan` for `vm` (as read from the cache) and its launcher `pod`. A refused write
 * is reported in status and an Event, then thrown as WriteRefusedError so the work queue
 * retries with backoff (a quota refusal is polled instead: it clears when usage drops).
 * A status write that lost a race with another writer (409) is retried soon. A held
 * Starting status waits for the launcher, unless a refusal must be said at once.
 */
export async function executePlan(deps: ExecutorDeps, ctx: { vm: VirtualMachine; pod?: V1Pod }, plan: Plan): Promise<ExecResult> {
  const done = await runActions(deps, ctx, plan.actions);
  if (!done) return {};
  const { vm, refusals } = done;
  if (plan.holdStatusMs !== undefined && !refusals.length) {
    return { requeueAfterMs: Math.min(plan.requeueAfterMs ?? plan.holdStatusMs, plan.holdStatusMs), lane: 'high' };
  }
  const conflict = await writeStatus(deps, { before: ctx.vm, vm }, plan, refusals);
  if (conflict) return conflict;
  const blocking = refusals.find((r) => !r.quota);
  if (blocking) throw new WriteRefusedError(blocking);
  if (refusals.length) return { requeueAfterMs: deps.quotaRetryMs };
  return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
}

/** Another writer changed the VM since the cache saw it: look again once the watch caught up. */
const CONFLICT_RETRY_MS = 1_000;
