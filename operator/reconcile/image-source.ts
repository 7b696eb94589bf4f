/**
 * The cross-namespace part of planning an image (ADR 0019): an image whose `pvc` source is in
 * another namespace is copied through a source pod there. Before the importer: the source pod,
 * running with an IP (its credentials written for the pod). While the importer runs: it must
 * still point at that pod, or both start over. After the verdict, or when the image goes: the
 * source pod is deleted (its Secret goes with it), and only then the image's finalizer. A
 * source pod labelled for this image but of another UID or namespace is an orphan: deleted.
 * Pure.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { sourceServerName, sourceUrl } from '../../api/contract/claim-source.js';
import { IMPORT_ANNOTATION, importTask, type ImportSourceSpec } from '../../api/contract/importer.js';
import type { VirtualMachineImage } from '../../api/schema/image.js';
import { renderSourcePod, sourcePodName } from '../render/source-pod.js';
import type { ClaimFacts, ImageAction } from './image-plan.js';
import { importerState, podGeneration } from './importer-state.js';

/** Keeps a cross-namespace image until its source pod is gone. */
export const SOURCE_FINALIZER = 'kubevmm.io/source-cleanup';

/** A pod by namespace and name. */
export interface PodRef {
  namespace: string;
  name: string;
}

/** What observing found about an image's source pods. */
export interface SourceObserved {
  /** `kubevmm-source-<uid>` in the source claim's namespace. */
  pod?: V1Pod;
  /** Source pods labelled for this image's namespace and name but another UID or namespace. */
  stale: PodRef[];
}

const nsOf = (image: VirtualMachineImage) => image.metadata.namespace ?? 'default';

/** The source claim when it is in another namespace than the image. */
export function crossNamespaceClaim(image: VirtualMachineImage): PodRef | undefined {
  const pvc = image.spec.source.pvc;
  return pvc?.namespace && pvc.namespace !== nsOf(image) ? { namespace: pvc.namespace, name: pvc.name } : undefined;
}

const gone = (pod: V1Pod | undefined) => !pod || !!pod.metadata?.deletionTimestamp;

/** Deletes of the source pod (unless already going) and the stale ones. */
export function sourceCleanup(source: SourceObserved): ImageAction[] {
  const pods: PodRef[] = [...source.stale];
  const pod = source.pod;
  if (pod && !gone(pod)) pods.push({ namespace: pod.metadata?.namespace ?? 'default', name: pod.metadata?.name ?? '' });
  return pods.map((p) => ({ kind: 'deleteSource', ...p }));
}

/**
 * The finalizer's part: added while the image copies across namespaces, removed once no
 * source pod is left (the image being deleted, or its source no longer in another namespace).
 */
export function finalizerAction(image: VirtualMachineImage, source: SourceObserved): ImageAction | undefined {
  const has = image.metadata.finalizers?.includes(SOURCE_FINALIZER) ?? false;
  const wanted = !image.metadata.deletionTimestamp && !!crossNamespaceClaim(image);
  if (wanted && !has) return { kind: 'addFinalizer' };
  if (!wanted && has && !source.pod && !source.stale.length) return { kind: 'removeFinalizer' };
  return undefined;
}

/** What must happen before the importer can pull: the source pod made, waited for, or ready at a URL. */
export type SourceStep = { ready: true; source: ImportSourceSpec } | { ready: false; actions: ImageAction[]; reason: string; message: string };

/** What sourceStep decides from. */
export interface SourceStepInput {
  image: VirtualMachineImage;
  /** The source claim's namespace and name. */
  ref: PodRef;
  claim: ClaimFacts;
  /** The observed source pod. */
  pod: V1Pod | undefined;
  launcherImage: string;
}

/** The step for an import of the image's generation reading `claim` from `ref`. */
export function sourceStep(input: SourceStepInput): SourceStep {
  const { image, ref, claim, pod } = input;
  const uid = image.metadata.uid ?? '';
  const generation = image.metadata.generation ?? 0;
  const name = sourcePodName(uid);
  const where = `source pod ${ref.namespace}/${name}`;
  if (!pod) {
    const rendered = renderSourcePod({ image: { name: image.metadata.name, namespace: nsOf(image), uid, generation }, claim: { ...ref, mode: claim.mode }, launcherImage: input.launcherImage });
    return { ready: false, actions: [{ kind: 'createSource', pod: rendered }], reason: 'SourceStarting', message: `starting ${where} to serve claim ${ref.name} to the importer` };
  }
  if (pod.metadata?.deletionTimestamp) return { ready: false, actions: [], reason: 'SourceDeleting', message: `waiting for the previous ${where} to go` };
  if (podGeneration(pod) !== generation) return { ready: false, actions: [{ kind: 'deleteSource', ...ref, name }], reason: 'SpecChanged', message: `the spec changed: the ${where} of the previous spec is stopped` };
  const ip = pod.status?.phase === 'Running' ? pod.status.podIP : undefined;
  if (ip) return { ready: true, source: { kind: 'claim', url: sourceUrl(ip), serverName: sourceServerName(uid), mode: claim.mode } };
  return { ready: false, actions: [{ kind: 'ensureSourceCredentials', pod: { namespace: ref.namespace, name, uid: pod.metadata?.uid ?? '' } }], ...waiting(pod, where) };
}

/** Why a source pod that exists is not serving yet. */
function waiting(pod: V1Pod, where: string): { reason: string; message: string } {
  const state = importerState(pod);
  if (state.phase !== 'pending') return { reason: 'SourceStarting', message: `${where} is starting` };
  if (state.problem) return { reason: state.problem.reason, message: `${where}: ${state.problem.reason}: ${state.problem.message}` };
  if (state.unschedulable) return { reason: 'Unschedulable', message: `${where}: ${state.unschedulable}` };
  return { reason: 'SourceStarting', message: `${where} is starting` };
}

/**
 * Why a running importer no longer has its source (the source pod gone, or restarted at
 * another IP: the importer would retry an address that no longer serves it), or undefined.
 */
export function sourceLost(importer: V1Pod | undefined, source: V1Pod | undefined): string | undefined {
  const url = claimUrl(importer);
  if (!url) return undefined;
  const ip = source?.status?.phase === 'Running' && !gone(source) ? source.status.podIP : undefined;
  if (ip && sourceUrl(ip) === url) return undefined;
  return ip ? `the source pod now serves at ${sourceUrl(ip)}, not ${url}` : 'the source pod is gone';
}

/** The source pod URL in an importer's task, when it pulls from one. */
function claimUrl(importer: V1Pod | undefined): string | undefined {
  const raw = importer?.metadata?.annotations?.[IMPORT_ANNOTATION];
  if (!raw) return undefined;
  try {
    const task = importTask.safeParse(JSON.parse(raw));
    return task.success && task.data.source.kind === 'claim' ? task.data.source.url : undefined;
  } catch {
    return undefined;
  }
}
