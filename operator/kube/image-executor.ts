/**
 * Carries out an image plan: the claim, the importer's credentials and pod, the deletion of a
 * finished or outdated importer; for a copy from another namespace, the source pod there and
 * its Secret, their deletion and the image's finalizer; then status (guarded by
 * resourceVersion) and Events. A write the API server refuses is said in status and an Event,
 * then retried with backoff.
 */
import type { ImageStatus, VirtualMachineImage } from '../../api/schema/image.js';
import { setCondition } from '../reconcile/conditions.js';
import type { ImageAction, ImagePlan } from '../reconcile/image-plan.js';
import type { VmEvent } from '../reconcile/types.js';
import type { V1Pod } from '@kubernetes/client-node';
import { SOURCE_FINALIZER } from '../reconcile/image-source.js';
import { importerSecretName } from '../render/importer.js';
import { sourceLabels, sourceSecretName } from '../render/source-pod.js';
import type { LauncherNetworkPolicies } from './network-policy.js';
import { statusCode, type ClusterApi } from './client.js';
import { eventFor } from './executor.js';
import type { LauncherCredentials } from './launcher-credentials.js';
import { isNamespaceTerminating, refusalOf, refusalText, writing, WriteError, WriteRefusedError, type Refusal } from './refusal.js';
import { statusPatch } from './status-patch.js';

/** What the image executor needs. */
export interface ImageExecutorDeps {
  api: Pick<ClusterApi, 'createPvc' | 'applyPod' | 'deletePod' | 'patchImageStatus' | 'patchImageFinalizers' | 'createEvent'>;
  credentials: Pick<LauncherCredentials, 'ensureImporter' | 'ensureSource'>;
  /** launcherNetworkPolicy mode: the importer and source pods' NetworkPolicies of a namespace; absent when off. */
  networkPolicies?: Pick<LauncherNetworkPolicies, 'ensureImages'>;
  now: () => Date;
}

const objectName = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;

/** The source pod, then its Secret owned by it (the pod waits for the Secret to mount). */
async function createSource(deps: ImageExecutorDeps, image: VirtualMachineImage, pod: V1Pod): Promise<void> {
  const ns = pod.metadata?.namespace ?? 'default';
  await deps.networkPolicies?.ensureImages(ns);
  const created = await writing({ kind: 'SourcePod', object: objectName(pod) }, () => deps.api.applyPod(pod));
  await ensureSource(deps, image, { namespace: ns, name: pod.metadata?.name ?? '', uid: created.metadata?.uid ?? '' }, pod.metadata?.labels ?? {});
}

async function ensureSource(deps: ImageExecutorDeps, image: VirtualMachineImage, pod: { namespace: string; name: string; uid: string }, labels: Record<string, string>): Promise<void> {
  await writing({ kind: 'SourceSecret', object: `${pod.namespace}/${sourceSecretName(image.metadata.uid ?? '')}` }, () => deps.credentials.ensureSource(image, pod, labels));
}

async function run(deps: ImageExecutorDeps, image: VirtualMachineImage, action: ImageAction): Promise<void> {
  const ns = image.metadata.namespace ?? 'default';
  switch (action.kind) {
    case 'createClaim':
      return void (await writing({ kind: 'ImageClaim', object: objectName(action.claim) }, () => deps.api.createPvc(action.claim)));
    case 'createImporter':
      await deps.networkPolicies?.ensureImages(ns);
      // The credentials first: only a pod the operator creates for this image names them.
      await writing({ kind: 'ImporterSecret', object: `${ns}/${importerSecretName(image.metadata.name)}` }, () => deps.credentials.ensureImporter(image, { claimCopy: action.claimCopy ?? false }));
      return void (await writing({ kind: 'ImporterPod', object: objectName(action.pod) }, () => deps.api.applyPod(action.pod)));
    case 'deleteImporter':
      return deps.api.deletePod(ns, action.name);
    case 'createSource':
      return createSource(deps, image, action.pod);
    case 'ensureSourceCredentials':
      return ensureSource(deps, image, action.pod, sourceLabels({ name: image.metadata.name, namespace: ns, uid: image.metadata.uid ?? '' }));
    case 'deleteSource':
      return deps.api.deletePod(action.namespace, action.name);
    case 'addFinalizer':
      return void (await deps.api.patchImageFinalizers(image, [...(image.metadata.finalizers ?? []), SOURCE_FINALIZER]));
    case 'removeFinalizer':
      return void (await deps.api.patchImageFinalizers(image, (image.metadata.finalizers ?? []).filter((f) => f !== SOURCE_FINALIZER)));
  }
}

/** Status and Event after a refused write: the import cannot go on until the server takes it. */
function refused(status: ImageStatus, r: Refusal, now: Date): { status: ImageStatus; event: VmEvent } {
  const reason = `${r.kind}Refused`;
  const message = refusalText(r);
  const conditions = setCondition(status.conditions, { type: 'Failure', status: 'True', reason, message }, { now });
  return { status: { ...status, phase: 'Pending', conditions }, event: { type: 'Warning', reason, message } };
}

/** Runs the actions in order up to the first refused write; 'terminating' when the namespace goes. */
async function runActions(deps: ImageExecutorDeps, image: VirtualMachineImage, actions: readonly ImageAction[]): Promise<Refusal | 'terminating' | undefined> {
  for (const action of actions) {
    try {
      await run(deps, image, action);
    } catch (err) {
      if (isNamespaceTerminating(err)) return 'terminating';
      const refusal = refusalOf(err);
      if (!refusal) throw err instanceof WriteError ? err.cause : err;
      return refusal;
    }
  }
  return undefined;
}

/** The last finalizer of a deleted image went: the image is gone too, with no status to write. */
function released(image: VirtualMachineImage, plan: ImagePlan): boolean {
  return !!image.metadata.deletionTimestamp && plan.actions.some((a) => a.kind === 'removeFinalizer');
}

/** Executes `plan` for `image` (as the cache had it); the delay before looking again, if any. */
export async function executeImagePlan(deps: ImageExecutorDeps, image: VirtualMachineImage, plan: ImagePlan): Promise<{ requeueAfterMs?: number }> {
  const ran = await runActions(deps, image, plan.actions);
  if (ran === 'terminating' || (!ran && released(image, plan))) return {};
  const refusal = ran;
  const outcome = refusal ? refused(plan.status, refusal, deps.now()) : undefined;
  const status = outcome?.status ?? plan.status;
  const patch = statusPatch(image.status, status);
  if (patch) {
    try {
      await deps.api.patchImageStatus(image, patch);
    } catch (err) {
      if (statusCode(err) === 409) return { requeueAfterMs: 1000 };
      if (statusCode(err) === 404) return {}; // the image is gone
      throw err;
    }
  }
  for (const e of outcome ? [outcome.event] : plan.events) {
    await deps.api.createEvent(eventFor('VirtualMachineImage', image, e, deps.now())).catch((err: unknown) => {
      if (!isNamespaceTerminating(err)) throw err;
    });
  }
  if (refusal) throw new WriteRefusedError(refusal);
  return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
}
