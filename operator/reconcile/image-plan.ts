/**
 * planImage: what one reconcile of a VirtualMachineImage does, from observed state only
 * (pure, like planReconcile for VMs). The claim `<image>-image` first, then one importer pod
 * per spec generation; its progress into status while it runs; its verdict (the termination
 * message) into Ready or Failed; then the pod goes. A finished generation is never imported
 * again: only a spec change (metadata.generation) starts over.
 */
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { ImporterStatus, ImportSourceSpec } from '../../api/contract/importer.js';
import { IMAGE_LABEL, importerPodName, importerSecretName, REGISTRY_COPY_PATH, renderImporterPod, sourceFilePath } from '../render/importer.js';
import { formatBytes, parseQuantity } from '../../api/quantity.js';
import { imageClaimName, type ImagePhase, type ImageStatus, type VirtualMachineImage } from '../../api/schema/image.js';
import { renderImageClaim, usableBytes, type VolumeMode } from '../render/image-claims.js';
import { setCondition } from './conditions.js';
import { importerState, podGeneration, type ImporterState } from './importer-state.js';
import { crossNamespaceClaim, finalizerAction, sourceCleanup, sourceLost, sourceStep, SOURCE_FINALIZER, type SourceObserved } from './image-source.js';
import type { VmEvent } from './types.js';

/** A claim as image planning sees it. */
export interface ClaimFacts {
  /** Created by kubevmm for this object (its UID in the created-for annotation or a controller reference). */
  owned: boolean;
  mode: VolumeMode;
  sizeBytes: number;
  storageClassName?: string;
  accessModes: string[];
}

/** Everything reconcile knows about one image at one moment. */
export interface ImageObserved {
  image: VirtualMachineImage;
  /** `<image>-image`, when it exists. */
  claim?: ClaimFacts;
  /** The importer pod, only when the image owns it. */
  pod?: V1Pod;
  /** Set when a pod has the importer's name but the image does not own it. */
  foreignPod?: string;
  /** The importer's `GET /status`, when it answered. */
  importer?: ImporterStatus;
  /** The `pvc` source claim (in whichever namespace it is), when it exists. */
  sourceClaim?: ClaimFacts;
  /** Source pods, when the `pvc` source is (or was) in another namespace (reconcile/image-source.ts). */
  source?: SourceObserved;
  now: Date;
}

/** Operator settings image planning needs. */
export interface ImageSettings {
  launcherImage: string;
  /** How often a running import is asked for its progress. */
  pollMs: number;
  /** The claim's size when spec.storage.size is not set (and no source claim gives one). */
  defaultSizeBytes: number;
}

/** One change to make for an image. */
export type ImageAction =
  | { kind: 'createClaim'; claim: V1PersistentVolumeClaim }
  | { kind: 'createImporter'; pod: V1Pod; claimCopy?: boolean }
  | { kind: 'deleteImporter'; name: string }
  | { kind: 'createSource'; pod: V1Pod }
  | { kind: 'ensureSourceCredentials'; pod: { namespace: string; name: string; uid: string } }
  | { kind: 'deleteSource'; namespace: string; name: string }
  | { kind: 'addFinalizer' }
  | { kind: 'removeFinalizer' };

/** What reconcile decided for an image. */
export interface ImagePlan {
  actions: ImageAction[];
  status: ImageStatus;
  events: VmEvent[];
  requeueAfterMs?: number;
}

interface Draft {
  obs: ImageObserved;
  settings: ImageSettings;
  status: ImageStatus;
  actions: ImageAction[];
  requeueAfterMs?: number;
}

const ns = (image: VirtualMachineImage) => image.metadata.namespace ?? 'default';

function setPhase(d: Draft, phase: ImagePhase, why: { reason: string; message: string }, failed = false): void {
  const opts = { now: d.obs.now, generation: d.obs.image.metadata.generation };
  d.status.phase = phase;
  const ready = phase === 'Ready';
  d.status.conditions = setCondition(d.status.conditions, { type: 'Ready', status: ready ? 'True' : 'False', reason: why.reason, message: why.message }, opts);
  d.status.conditions = setCondition(d.status.conditions, failed ? { type: 'Failure', status: 'True', ...why } : { type: 'Failure', status: 'False', reason: 'NoFailure', message: '' }, opts);
}

function poll(d: Draft): void {
  d.requeueAfterMs = Math.min(d.requeueAfterMs ?? d.settings.pollMs, d.settings.pollMs);
}

/** The claim's size: spec.storage.size, else the source claim's, else the default (docs/disk-images.md). */
export function imageClaimBytes(image: VirtualMachineImage, sourceClaim: ClaimFacts | undefined, defaultBytes: number): number {
  const size = image.spec.storage?.size;
  if (size !== undefined) return parseQuantity(size);
  return sourceClaim?.sizeBytes ?? defaultBytes;
}

function claimToCreate(d: Draft): V1PersistentVolumeClaim {
  const { image, sourceClaim } = d.obs;
  const storage = image.spec.storage;
  return renderImageClaim({
    image: { name: image.metadata.name, namespace: ns(image), uid: image.metadata.uid ?? '' },
    sizeBytes: imageClaimBytes(image, sourceClaim, d.settings.defaultSizeBytes),
    ...(storage?.storageClassName ? { storageClassName: storage.storageClassName } : {}),
    volumeMode: storage?.volumeMode ?? 'Filesystem',
    accessModes: storage?.accessModes ?? ['ReadWriteOnce'],
  });
}

function taskSource(image: VirtualMachineImage, sourceClaim: ClaimFacts | undefined, remote: ImportSourceSpec | undefined): ImportSourceSpec {
  const { http, registry } = image.spec.source;
  if (remote) return remote;
  if (http) return { kind: 'http', url: http.url, ...(http.sha256 ? { sha256: http.sha256 } : {}) };
  if (registry) return { kind: 'file', path: REGISTRY_COPY_PATH };
  if (sourceClaim) return { kind: 'file', path: sourceFilePath(sourceClaim.mode) };
  return { kind: 'upload' };
}

function importerToCreate(d: Draft, claim: ClaimFacts, remote?: ImportSourceSpec): V1Pod {
  const { image, sourceClaim } = d.obs;
  const name = image.metadata.name;
  const { pvc, registry } = image.spec.source;
  return renderImporterPod({
    name: importerPodName(name),
    namespace: ns(image),
    owner: { kind: 'VirtualMachineImage', name, uid: image.metadata.uid ?? '', generation: image.metadata.generation ?? 0 },
    labels: { [IMAGE_LABEL]: name },
    launcherImage: d.settings.launcherImage,
    task: { source: taskSource(image, sourceClaim, remote), target: { mode: claim.mode, capacityBytes: Math.max(1, usableBytes(claim.sizeBytes, claim.mode)) } },
    target: { claimName: imageClaimName(name), mode: claim.mode },
    ...(pvc && sourceClaim && !remote ? { source: { claimName: pvc.name, mode: sourceClaim.mode } } : {}),
    ...(registry ? { registry: { image: registry.image, path: registry.path ?? '/disk' } } : {}),
    scratchBytes: claim.sizeBytes,
    credentialsSecret: importerSecretName(name),
  });
}

/** Why the image cannot start an import at all (a claim or pod kubevmm did not make, a source it cannot reach). */
function blocked(d: Draft): { reason: string; message: string } | undefined {
  const { image, claim, foreignPod } = d.obs;
  const claimName = imageClaimName(image.metadata.name);
  if (claim && !claim.owned) {
    return { reason: 'ClaimConflict', message: `PersistentVolumeClaim ${claimName} exists and kubevmm did not create it for this image; kubevmm never adopts a claim: delete or rename it, or give the image another name` };
  }
  if (foreignPod) return { reason: 'ImporterPodConflict', message: foreignPod };
  return undefined;
}

/** A cross-namespace importer whose source pod is gone or moved would retry an address that no longer serves it: both start over. */
function restartWithSource(d: Draft, pod: string): boolean {
  const lost = crossNamespaceClaim(d.obs.image) ? sourceLost(d.obs.pod, d.obs.source?.pod) : undefined;
  if (!lost) return false;
  d.actions.push({ kind: 'deleteImporter', name: pod });
  setPhase(d, 'Pending', { reason: 'SourceRestarted', message: `${lost}: the importer ${pod} is restarted with the source pod` });
  return true;
}

/** Status and actions while the importer pod exists and runs for this generation. */
function planRunning(d: Draft, state: ImporterState): void {
  const pod = importerPodName(d.obs.image.metadata.name);
  d.status.importerPod = pod;
  if (state.phase === 'deleting') return setPhase(d, 'Pending', { reason: 'ImporterDeleting', message: `waiting for the previous importer pod ${pod} to go` });
  if (state.phase === 'pending') {
    const problem = state.problem ? `${state.problem.reason}: ${state.problem.message}` : state.unschedulable;
    return setPhase(d, 'Pending', { reason: state.problem?.reason ?? (state.unschedulable ? 'Unschedulable' : 'ImporterStarting'), message: problem ?? `importer pod ${pod} is starting` });
  }
  const seen = d.obs.importer;
  poll(d);
  if (restartWithSource(d, pod)) return;
  if (!seen) return setPhase(d, 'Importing', { reason: 'Importing', message: `importer pod ${pod} runs` });
  d.status.progress = `${Math.floor(seen.percent)}%`;
  if (seen.format) d.status.format = seen.format;
  if (seen.phase === 'Waiting') return setPhase(d, 'Pending', { reason: 'WaitingForUpload', message: `waiting for an upload: kubevmm image upload ${d.obs.image.metadata.name} --file PATH` });
  const retrying = seen.failure && !seen.failure.permanent ? `; retrying (${seen.retries} so far) after ${seen.failure.reason}: ${seen.failure.message}` : '';
  setPhase(d, 'Importing', { reason: seen.phase, message: `${seen.phase.toLowerCase()}: ${seen.bytesRead} of ${seen.bytesTotal ?? '?'} bytes read${retrying}` });
}

function planEnded(d: Draft, state: Extract<ImporterState, { phase: 'succeeded' | 'failed' }>, generation: number): void {
  // Written first, deleted after: the pod is the record of the verdict until status holds it.
  d.status.observedGeneration = generation;
  if (state.phase === 'failed') return setPhase(d, 'Failed', { reason: state.reason, message: state.message }, true);
  d.status.progress = '100%';
  d.status.format = state.result.format;
  d.status.virtualSize = formatBytes(state.result.virtualSizeBytes);
  d.status.checksumVerified = state.result.checksumVerified;
  setPhase(d, 'Ready', { reason: 'Imported', message: `imported ${state.result.format}, ${formatBytes(state.result.virtualSizeBytes)}${state.result.checksumVerified ? ', checksum verified' : ''}` });
}

/** Creates what is missing for the current generation, or reads the importer's state. */
function planImport(d: Draft): void {
  const { image, claim, pod, sourceClaim } = d.obs;
  const generation = image.metadata.generation ?? 0;
  const state = importerState(pod);
  const podGen = podGeneration(pod);
  if (pod && state.phase !== 'deleting' && podGen !== generation) {
    d.actions.push({ kind: 'deleteImporter', name: importerPodName(image.metadata.name) });
    return setPhase(d, 'Pending', { reason: 'SpecChanged', message: 'the spec changed: the importer of the previous spec is stopped and a new import starts' });
  }
  if (image.spec.source.pvc && !sourceClaim) {
    poll(d);
    return setPhase(d, 'Pending', { reason: 'SourceClaimNotFound', message: `PersistentVolumeClaim ${image.spec.source.pvc.name} not found in namespace ${image.spec.source.pvc.namespace ?? ns(image)}; create it` });
  }
  if (!claim) {
    d.actions.push({ kind: 'createClaim', claim: claimToCreate(d) });
    d.status.progress = '0%';
    return setPhase(d, 'Pending', { reason: 'CreatingClaim', message: `creating PersistentVolumeClaim ${imageClaimName(image.metadata.name)}` });
  }
  if (state.phase === 'none') return planStart(d, claim);
  if (state.phase === 'succeeded' || state.phase === 'failed') return planEnded(d, state, generation);
  planRunning(d, state);
}

/** No importer yet: start it, after its source pod when the source claim is in another namespace. */
function planStart(d: Draft, claim: ClaimFacts): void {
  const { image, sourceClaim } = d.obs;
  const remote = crossNamespaceClaim(image);
  const step = remote && sourceClaim ? sourceStep({ image, ref: remote, claim: sourceClaim, pod: d.obs.source?.pod, launcherImage: d.settings.launcherImage }) : undefined;
  if (step && !step.ready) {
    poll(d);
    d.actions.push(...step.actions);
    return setPhase(d, 'Pending', { reason: step.reason, message: step.message });
  }
  d.actions.push({ kind: 'createImporter', pod: importerToCreate(d, claim, step?.source), ...(step ? { claimCopy: true } : {}) });
  d.status.importerPod = importerPodName(image.metadata.name);
  d.status.progress = '0%';
  setPhase(d, 'Pending', { reason: 'ImporterStarting', message: `starting importer pod ${importerPodName(image.metadata.name)}` });
}

function finished(status: ImageStatus | undefined, generation: number): boolean {
  return status?.observedGeneration === generation && (status.phase === 'Ready' || status.phase === 'Failed');
}

const failureOf = (s: ImageStatus | undefined) => s?.conditions?.find((c) => c.type === 'Failure' && c.status === 'True');

/** An Event when the phase changes, or a new failure appears under the same phase. */
function imageEvents(before: ImageStatus | undefined, after: ImageStatus): VmEvent[] {
  const failure = failureOf(after);
  const newFailure = !!failure && failure.reason !== failureOf(before)?.reason;
  if (before?.phase === after.phase && !newFailure) return [];
  if (failure) return [{ type: 'Warning', reason: failure.reason, message: failure.message }];
  const ready = after.conditions?.find((c) => c.type === 'Ready');
  return [{ type: 'Normal', reason: after.phase === 'Ready' ? 'Imported' : `Image${after.phase ?? ''}`, message: ready?.message ?? '' }];
}

/** The image is being deleted: its importer now (owner references would, later), its source pod (nothing else will). */
function planDeleting(d: Draft, source: SourceObserved): void {
  const { obs } = d;
  if (obs.pod && !obs.pod.metadata?.deletionTimestamp) d.actions.push({ kind: 'deleteImporter', name: importerPodName(obs.image.metadata.name) });
  d.actions.push(...sourceCleanup({ ...(source.pod ? { pod: source.pod } : {}), stale: [] }));
  // Looked at again until the source pod is gone and the finalizer can go.
  if (obs.image.metadata.finalizers?.includes(SOURCE_FINALIZER)) poll(d);
}

/** The verdict is in status: the pods that gave it go, and nothing starts again. */
function planFinished(d: Draft, source: SourceObserved): void {
  const { obs } = d;
  if (obs.pod && importerState(obs.pod).phase !== 'deleting') d.actions.push({ kind: 'deleteImporter', name: importerPodName(obs.image.metadata.name) });
  d.actions.push(...sourceCleanup({ ...(source.pod ? { pod: source.pod } : {}), stale: [] }));
  delete d.status.importerPod;
}

/** Decides one reconcile of `obs.image`. */
export function planImage(obs: ImageObserved, settings: ImageSettings): ImagePlan {
  const { image } = obs;
  const d: Draft = { obs, settings, status: { ...image.status, claimName: imageClaimName(image.metadata.name) }, actions: [] };
  const source = obs.source ?? { stale: [] };
  const finalizer = finalizerAction(image, source);
  if (finalizer?.kind === 'addFinalizer') d.actions.push(finalizer);
  // Source pods of another UID or namespace (a recreated image, a changed source) go at once.
  d.actions.push(...sourceCleanup({ stale: source.stale }));
  const problem = image.metadata.deletionTimestamp ? undefined : blocked(d);
  if (image.metadata.deletionTimestamp) {
    planDeleting(d, source);
  } else if (problem) {
    // Not a verdict on this spec: looked at again, and the import goes on once the conflict is gone.
    poll(d);
    setPhase(d, 'Failed', problem, true);
  } else if (finished(image.status, image.metadata.generation ?? 0)) {
    planFinished(d, source);
  } else {
    planImport(d);
  }
  if (finalizer?.kind === 'removeFinalizer') d.actions.push(finalizer);
  return { actions: d.actions, status: d.status, events: imageEvents(image.status, d.status), ...(d.requeueAfterMs !== undefined ? { requeueAfterMs: d.requeueAfterMs } : {}) };
}
