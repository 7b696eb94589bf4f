/**
 * Carries out a reconcile Plan against the cluster, in order: finalizer, credentials Secret,
 * launcher pod (server-side apply), deletions, pause/resume, then status and Events.
 * A ResourceQuota refusal becomes the ErrorQuotaExceeded status instead of a bare error.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { API_VERSION } from '../../api/schema/common.js';
import type { VirtualMachine, VmStatus } from '../../api/schema/vm.js';
import { setCondition } from '../reconcile/conditions.js';
import { FINALIZER, type Action, type Plan, type VmEvent } from '../reconcile/types.js';
import { launcherPodName } from '../render/pod.js';
import { apiMessage, statusCode, type ClusterApi } from './client.js';
import type { LauncherClient } from './launcher-client.js';
import type { LauncherCredentials } from './launcher-credentials.js';
import type { LauncherNetworkPolicies } from './network-policy.js';
import { statusPatch } from './status-patch.js';

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

/** True when the VM's namespace is being deleted: nothing new can be created in it. */
export function isNamespaceTerminating(err: unknown): boolean {
  return statusCode(err) === 403 && /being terminated/i.test(apiMessage(err));
}

/** True for the API server's refusal of a pod by a ResourceQuota. */
export function isQuotaError(err: unknown): boolean {
  return statusCode(err) === 403 && /exceeded quota/i.test(apiMessage(err));
}

async function createPod(deps: ExecutorDeps, vm: VirtualMachine, pod: V1Pod): Promise<void> {
  // The credentials first: the pod's Secret volume waits for them, and only a pod the
  // operator itself creates for this VM ever names them.
  await deps.credentials.ensure(vm);
  await deps.networkPolicies?.ensure(vm.metadata.namespace ?? 'default');
  await deps.api.applyPod(pod);
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

/** The headless Service first (idempotent), then the attachment pod. */
async function createAttachment(deps: ExecutorDeps, action: Extract<Action, { kind: 'createAttachment' }>): Promise<void> {
  await deps.api.applyService(action.service);
  await deps.api.applyPod(action.pod);
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
      await deps.api.deletePod(ns, launcherPodName(vm.metadata.name));
      return vm;
    case 'createAttachment':
      await createAttachment(deps, action);
      return vm;
    case 'deleteAttachment':
      await deps.api.deletePod(ns, action.name);
      return vm;
    default:
      await launcherAction(deps, vm, ctx.pod, action);
      return vm;
  }
}

function quotaStatus(status: VmStatus, message: string, now: Date): VmStatus {
  const { startedAt: _startedAt, ...rest } = status;
  const failure = { type: 'Failure', status: 'True' as const, reason: 'QuotaExceeded', message };
  return { ...rest, printableStatus: 'ErrorQuotaExceeded', conditions: setCondition(status.conditions, failure, { now }) };
}

function eventFor(vm: VirtualMachine, e: VmEvent, now: Date) {
  const ns = vm.metadata.namespace ?? 'default';
  return {
    metadata: { generateName: `${vm.metadata.name}.`, namespace: ns },
    involvedObject: { apiVersion: API_VERSION, kind: 'VirtualMachine', name: vm.metadata.name, namespace: ns, uid: vm.metadata.uid ?? '' },
    type: e.type,
    reason: e.reason,
    message: e.message,
    source: { component: 'kubevmm-operator' },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/** What the actions leave to write: the plan's status and Events, or a quota refusal's. */
interface Outcome {
  vm: VirtualMachine;
  status: VmStatus;
  events: VmEvent[];
  requeueAfterMs?: number;
  /** The plan's status was replaced (a quota refusal): a hold no longer applies. */
  replaced: boolean;
}

/** Runs the actions in order; a quota refusal of the pod becomes the outcome instead of an error. */
async function runActions(deps: ExecutorDeps, ctx: { vm: VirtualMachine; pod?: V1Pod }, plan: Plan): Promise<Outcome | undefined> {
  const out: Outcome = { vm: ctx.vm, status: plan.status, events: plan.events, replaced: false, ...(plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {}) };
  for (const action of plan.actions) {
    try {
      out.vm = await run(deps, { vm: out.vm, ...(ctx.pod ? { pod: ctx.pod } : {}) }, action);
    } catch (err) {
      // The namespace controller is deleting everything in it: starting anything is moot,
      // and the VM's own deletion will come through the informer.
      if (isNamespaceTerminating(err)) return undefined;
      if (action.kind !== 'createPod' || !isQuotaError(err)) throw err;
      out.status = quotaStatus(out.status, apiMessage(err), deps.now());
      out.events = ctx.vm.status?.printableStatus === 'ErrorQuotaExceeded' ? [] : [{ type: 'Warning', reason: 'ErrorQuotaExceeded', message: apiMessage(err) }];
      out.requeueAfterMs = deps.quotaRetryMs;
      out.replaced = true;
    }
  }
  return out;
}

/**
 * Executes `plan` for `vm` (as read from the cache) and its launcher `pod`.
 * Errors other than a quota refusal propagate: the work queue retries with backoff.
 */
export async function executePlan(deps: ExecutorDeps, ctx: { vm: VirtualMachine; pod?: V1Pod }, plan: Plan): Promise<ExecResult> {
  const out = await runActions(deps, ctx, plan);
  if (!out) return {};
  // A held Starting status waits for the launcher; a quota refusal is written at once.
  if (plan.holdStatusMs !== undefined && !out.replaced) {
    return { requeueAfterMs: Math.min(out.requeueAfterMs ?? plan.holdStatusMs, plan.holdStatusMs), lane: 'high' };
  }
  const patch = statusPatch(ctx.vm.status, out.status);
  if (patch && !plan.actions.some((a) => a.kind === 'removeFinalizer')) await deps.api.patchVmStatus(out.vm, patch);
  for (const e of out.events) {
    // An Event in a namespace being deleted cannot be written and would only be retried.
    await deps.api.createEvent(eventFor(out.vm, e, deps.now())).catch((err: unknown) => {
      if (!isNamespaceTerminating(err)) throw err;
    });
  }
  return out.requeueAfterMs !== undefined ? { requeueAfterMs: out.requeueAfterMs } : {};
}
