/**
 * Carries out a reconcile Plan against the cluster, in order: finalizer, token Secret,
 * launcher pod (server-side apply), deletions, pause/resume, then status and Events.
 * A write the API server refuses is reported in status and an Event (refusal.ts) and
 * retried with backoff; the status write itself is guarded by the VM's resourceVersion.
 */
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { DISK_LABEL, NBD_EXPORT, PSK_KEY, TOKEN_KEY } from '../../api/layout.js';
import { API_VERSION } from '../../api/schema/common.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { FINALIZER, type Action, type Plan, type VmEvent } from '../reconcile/types.js';
import { launcherPodName } from '../render/pod.js';
import { controlSecretName } from '../render/volumes.js';
import { statusCode, type ClusterApi } from './client.js';
import type { LauncherClient } from './launcher-client.js';
import { isNamespaceTerminating, refusalEvents, refusalOf, refusedStatus, writing, WriteError, WriteRefusedError, type Refusal } from './refusal.js';
import { statusPatch } from './status-patch.js';

/** What the executor needs. */
export interface ExecutorDeps {
  api: ClusterApi;
  launcher: LauncherClient;
  /** Polling interval while a quota blocks the pod. */
  quotaRetryMs: number;
  now: () => Date;
}

/** The outcome: when to look at the VM again. */
export interface ExecResult {
  requeueAfterMs?: number;
}

function owner(vm: VirtualMachine) {
  return [{ apiVersion: API_VERSION, kind: 'VirtualMachine', name: vm.metadata.name, uid: vm.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }];
}

/**
 * Tokens already read, by VM uid: a VM's token never changes (its Secret lives and dies
 * with the VM), and each read would cost an API call.
 */
const tokens = new Map<string, string>();

/** The VM's control API token, creating its Secret (owned by the VM) on first use. */
export async function launcherToken(api: ClusterApi, vm: VirtualMachine): Promise<string> {
  const cached = vm.metadata.uid ? tokens.get(vm.metadata.uid) : undefined;
  if (cached) return cached;
  const token = await readOrCreateToken(api, vm);
  if (vm.metadata.uid && token) tokens.set(vm.metadata.uid, token);
  return token;
}

/** Forgets a deleted VM's token. */
export function forgetToken(uid: string | undefined): void {
  if (uid) tokens.delete(uid);
}

async function readOrCreateToken(api: ClusterApi, vm: VirtualMachine): Promise<string> {
  const namespace = vm.metadata.namespace ?? 'default';
  const name = controlSecretName(vm.metadata.name);
  const existing = await api.getSecret(namespace, name);
  const secret =
    existing ??
    (await writing({ kind: 'ControlSecret', object: `${namespace}/${name}` }, () => api.createSecret({
      metadata: { name, namespace, ownerReferences: owner(vm), labels: { 'kubevmm.io/vm': vm.metadata.name } },
      type: 'Opaque',
      // The control token, and the TLS-PSK of the VM's hotplug exports (QEMU's keys.psk format).
      stringData: { [TOKEN_KEY]: randomBytes(32).toString('base64url'), [PSK_KEY]: `${NBD_EXPORT.pskUser}:${randomBytes(32).toString('hex')}` },
    })));
  const data = secret.data?.[TOKEN_KEY];
  return data ? Buffer.from(data, 'base64').toString('utf8') : (secret.stringData?.[TOKEN_KEY] ?? '');
}

const objectName = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;

async function createPod(deps: ExecutorDeps, vm: VirtualMachine, pod: V1Pod): Promise<void> {
  await launcherToken(deps.api, vm);
  await writing({ kind: 'LauncherPod', object: objectName(pod) }, () => deps.api.applyPod(pod));
}

type LauncherAction = Extract<Action, { kind: 'pause' | 'resume' | 'attachDisk' | 'detachDisk' }>;

async function launcherAction(deps: ExecutorDeps, vm: VirtualMachine, pod: V1Pod | undefined, action: LauncherAction): Promise<void> {
  const ip = pod?.status?.podIP;
  if (!ip) throw new Error(`cannot ${action.kind}: launcher pod has no IP yet`);
  const token = await launcherToken(deps.api, vm);
  if (action.kind === 'attachDisk') return deps.launcher.attach(ip, token, action.request);
  if (action.kind === 'detachDisk') return deps.launcher.detach(ip, token, action.name);
  await (action.kind === 'pause' ? deps.launcher.pause(ip, token) : deps.launcher.resume(ip, token));
}

/** The headless Service first (idempotent), then the attachment pod. */
async function createAttachment(deps: ExecutorDeps, action: Extract<Action, { kind: 'createAttachment' }>): Promise<void> {
  const disk = action.pod.metadata?.labels?.[DISK_LABEL];
  await writing({ kind: 'HotplugService', object: objectName(action.service), ...(disk ? { disk } : {}) }, () => deps.api.applyService(action.service));
  await writing({ kind: 'AttachmentPod', object: objectName(action.pod), ...(disk ? { disk } : {}) }, () => deps.api.applyPod(action.pod));
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
 * Executes `plan` for `vm` (as read from the cache) and its launcher `pod`. A refused write
 * is reported in status and an Event, then thrown as WriteRefusedError so the work queue
 * retries with backoff (a quota refusal is polled instead: it clears when usage drops).
 * A status write that lost a race with another writer (409) is retried soon.
 */
export async function executePlan(deps: ExecutorDeps, ctx: { vm: VirtualMachine; pod?: V1Pod }, plan: Plan): Promise<ExecResult> {
  const done = await runActions(deps, ctx, plan.actions);
  if (!done) return {};
  const { vm, refusals } = done;
  let status = plan.status;
  let events: VmEvent[] = plan.events;
  for (const r of refusals) status = refusedStatus(status, r, deps.now());
  if (refusals.length) events = refusalEvents(ctx.vm.status, status);
  const patch = statusPatch(ctx.vm.status, status);
  if (patch && !plan.actions.some((a) => a.kind === 'removeFinalizer')) {
    try {
      await deps.api.patchVmStatus(vm, patch);
    } catch (err) {
      if (statusCode(err) === 409) return { requeueAfterMs: CONFLICT_RETRY_MS };
      throw err;
    }
  }
  for (const e of events) await deps.api.createEvent(eventFor(vm, e, deps.now()));
  const blocking = refusals.find((r) => !r.quota);
  if (blocking) throw new WriteRefusedError(blocking);
  if (refusals.length) return { requeueAfterMs: deps.quotaRetryMs };
  return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
}

/** Another writer changed the VM since the cache saw it: look again once the watch caught up. */
const CONFLICT_RETRY_MS = 1_000;
