/**
 * Reads what image planning needs: for a VirtualMachineImage its claim, importer pod and the
 * importer's progress; for a VM about to start, per `image` disk the image (cache), its claim
 * and StorageClass, the VM's own claim and its copy pod (cache). Claims are read from the API
 * (the operator keeps no claim cache), and only while something waits on them.
 */
import type { V1PersistentVolumeClaim, V1Pod, V1StorageClass } from '@kubernetes/client-node';
import { vmImageDiskClaim } from '../api/claims.js';
import { parseQuantity } from '../api/quantity.js';
import { imageClaimName, type VirtualMachineImage } from '../api/schema/image.js';
import type { VirtualMachine } from '../api/schema/vm.js';
import type { ClusterApi } from './kube/client.js';
import type { LauncherClient } from './kube/launcher-client.js';
import type { StorageClassFacts } from './reconcile/clone.js';
import type { ImageDiskObserved, ImageFacts } from './reconcile/image-disks.js';
import type { ClaimFacts, ImageObserved } from './reconcile/image-plan.js';
import { controlledBy } from './reconcile/importer-state.js';
import { CREATED_FOR_ANNOTATION, POPULATED_ANNOTATION } from './render/image-claims.js';
import { copyPodName, importerPodName } from './render/importer.js';
import { crossNamespaceClaim, type SourceObserved } from './reconcile/image-source.js';
import { SOURCE_IMAGE_LABEL, SOURCE_NAMESPACE_LABEL, SOURCE_UID_LABEL, sourcePodName } from './render/source-pod.js';

/** Read access to a cache. */
interface Cache<T> {
  get(namespace: string | undefined, name: string): T | undefined;
}

/** What observing needs. */
export interface ImageSources {
  api: Pick<ClusterApi, 'getPvc' | 'getStorageClass'>;
  images: Cache<VirtualMachineImage>;
  /** Pods by name: importer pods (image pod cache) or copy pods (VM pod cache). */
  pods: Cache<V1Pod>;
}

/**
 * A claim's facts; `owned` when kubevmm made it for the object of `kind` and `uid`: a
 * controller reference to it, or (a retained VM disk's claim, which has none) the created-for
 * annotation and no controller at all.
 */
export function claimFacts(pvc: V1PersistentVolumeClaim, owner: { kind: string; uid: string | undefined }): ClaimFacts {
  const spec = pvc.spec ?? {};
  return {
    owned: ownedClaim(pvc, owner),
    mode: spec.volumeMode === 'Block' ? 'Block' : 'Filesystem',
    sizeBytes: parseQuantity(pvc.status?.capacity?.storage ?? spec.resources?.requests?.storage ?? '0'),
    ...(spec.storageClassName ? { storageClassName: spec.storageClassName } : {}),
    accessModes: spec.accessModes?.length ? spec.accessModes : ['ReadWriteOnce'],
  };
}

function ownedClaim(pvc: V1PersistentVolumeClaim, owner: { kind: string; uid: string | undefined }): boolean {
  if (controlledBy(pvc, owner.kind, owner.uid)) return true;
  const controller = (pvc.metadata?.ownerReferences ?? []).some((r) => r.controller);
  return !controller && !!owner.uid && pvc.metadata?.annotations?.[CREATED_FOR_ANNOTATION] === owner.uid;
}

function storageClassFacts(sc: V1StorageClass | undefined): StorageClassFacts | undefined {
  return sc?.metadata?.name ? { name: sc.metadata.name, provisioner: sc.provisioner, annotations: sc.metadata.annotations ?? {} } : undefined;
}

/** The owned pod of `name`, or why a pod of that name is left alone. */
function ownedPod(pod: V1Pod | undefined, owner: { kind: string; name: string; uid: string | undefined }): { pod?: V1Pod; foreign?: string } {
  if (!pod) return {};
  if (controlledBy(pod, owner.kind, owner.uid)) return { pod };
  return { foreign: `pod ${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''} exists but kubevmm did not create it for ${owner.kind} ${owner.name} (UID ${owner.uid ?? '?'}); kubevmm will not use or delete it: delete or rename that pod` };
}

/** A running importer's answer to GET /status, when it gives one. */
async function importerProgress(src: ImporterSources, pod: V1Pod | undefined, uid: string | undefined) {
  const ip = pod?.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp ? pod.status.podIP : undefined;
  if (!ip || !uid) return undefined;
  try {
    return await src.importers.importerStatus({ ip, vmUid: uid });
  } catch (err) {
    // Progress is detail on top of the pod's own state: a refusal or an answer off the
    // contract is logged, and the import goes on being judged by its pod.
    src.log?.('importer status unusable', { pod: pod?.metadata?.name, err: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/** Image sources plus the importer client (and a log for answers that cannot be used). */
export type ImporterSources = ImageSources & {
  importers: Pick<LauncherClient, 'importerStatus'>;
  /** Source pods of cross-namespace copies, in every namespace (labelled kubevmm.io/source-for-uid). */
  sourcePods?: Cache<V1Pod> & { list(): V1Pod[] };
  log?: (msg: string, fields?: Record<string, unknown>) => void;
};

/**
 * The image's source pod (by name, in the source claim's namespace, labelled with the image's
 * UID) and the stale ones: labelled for this image's namespace and name, but of another UID
 * (an image deleted and made again) or in another namespace (a changed source).
 */
export function observeSourcePods(pods: Cache<V1Pod> & { list(): V1Pod[] }, image: VirtualMachineImage): SourceObserved {
  const ns = image.metadata.namespace ?? 'default';
  const uid = image.metadata.uid ?? '';
  const remote = crossNamespaceClaim(image);
  const found = remote ? pods.get(remote.namespace, sourcePodName(uid)) : undefined;
  const pod = found?.metadata?.labels?.[SOURCE_UID_LABEL] === uid ? found : undefined;
  const stale = pods
    .list()
    .filter((p) => p !== pod && !p.metadata?.deletionTimestamp && isSourcePodOf(p, ns, image.metadata.name))
    .map((p) => ({ namespace: p.metadata?.namespace ?? 'default', name: p.metadata?.name ?? '' }));
  return { ...(pod ? { pod } : {}), stale };
}

/** A pod kubevmm made as a source pod (its name from the UID it is labelled with) for the image `namespace/name`. */
export function isSourcePodOf(pod: V1Pod, namespace: string, name: string): boolean {
  const labels = pod.metadata?.labels ?? {};
  const uid = labels[SOURCE_UID_LABEL];
  return !!uid && pod.metadata?.name === sourcePodName(uid) && labels[SOURCE_NAMESPACE_LABEL] === namespace && labels[SOURCE_IMAGE_LABEL] === name;
}

/** Everything planImage needs about `image`; `importer` answers GET /status of a running importer. */
export async function observeImage(src: ImporterSources, image: VirtualMachineImage, now: Date): Promise<ImageObserved> {
  const ns = image.metadata.namespace ?? 'default';
  const owner = { kind: 'VirtualMachineImage', name: image.metadata.name, uid: image.metadata.uid };
  const pvc = await src.api.getPvc(ns, imageClaimName(image.metadata.name));
  const { pod, foreign } = ownedPod(src.pods.get(ns, importerPodName(image.metadata.name)), owner);
  const source = image.spec.source.pvc;
  const sourcePvc = source ? await src.api.getPvc(source.namespace ?? ns, source.name) : undefined;
  const importer = await importerProgress(src, pod, image.metadata.uid);
  const sourcePods = src.sourcePods ? observeSourcePods(src.sourcePods, image) : undefined;
  return {
    image,
    now,
    ...(pvc ? { claim: claimFacts(pvc, owner) } : {}),
    ...(pod ? { pod } : {}),
    ...(foreign ? { foreignPod: foreign } : {}),
    ...(importer ? { importer } : {}),
    ...(sourcePods ? { source: sourcePods } : {}),
    // A source claim is only read, never written: whoever made it, it is a source.
    ...(sourcePvc ? { sourceClaim: { ...claimFacts(sourcePvc, owner), owned: false } } : {}),
  };
}

function diskClaimFacts(pvc: V1PersistentVolumeClaim, owner: { kind: string; uid: string | undefined }): ClaimFacts & { populated: boolean } {
  return { ...claimFacts(pvc, owner), populated: !!pvc.metadata?.annotations?.[POPULATED_ANNOTATION] };
}

async function observeDisk(src: ImageSources, vm: VirtualMachine, disk: { name: string; image: string }): Promise<ImageDiskObserved> {
  const ns = vm.metadata.namespace ?? 'default';
  const owner = { kind: 'VirtualMachine', name: vm.metadata.name, uid: vm.metadata.uid };
  const pvc = await src.api.getPvc(ns, vmImageDiskClaim(vm.metadata.name, disk.name));
  const claim = pvc ? diskClaimFacts(pvc, owner) : undefined;
  const { pod, foreign } = ownedPod(src.pods.get(ns, copyPodName(vm.metadata.name, disk.name)), owner);
  const base: ImageDiskObserved = { disk: disk.name, ...(claim ? { claim } : {}), ...(pod ? { copyPod: pod } : {}), ...(foreign ? { foreignCopyPod: foreign } : {}) };
  if (claim?.populated) return base; // ready: nothing else matters
  const image = src.images.get(ns, disk.image);
  if (!image) return base;
  const usable = await readyImageClaim(src, image);
  const sc = usable?.storageClassName && !claim ? storageClassFacts(await src.api.getStorageClass(usable.storageClassName)) : undefined;
  return { ...base, image: imageFacts(image), ...(usable ? { imageClaim: usable } : {}), ...(sc ? { storageClass: sc } : {}) };
}

function imageFacts(image: VirtualMachineImage): ImageFacts {
  const status = image.status ?? {};
  const failure = status.conditions?.find((c) => c.type === 'Failure' && c.status === 'True')?.message;
  return { ...(status.phase ? { phase: status.phase } : {}), ...(status.progress ? { progress: status.progress } : {}), ...(failure ? { failure } : {}) };
}

/** A Ready image's claim, when the image owns it: only then is it the image's content. */
async function readyImageClaim(src: ImageSources, image: VirtualMachineImage): Promise<ClaimFacts | undefined> {
  if (image.status?.phase !== 'Ready') return undefined;
  const pvc = await src.api.getPvc(image.metadata.namespace ?? 'default', imageClaimName(image.metadata.name));
  const facts = pvc ? claimFacts(pvc, { kind: 'VirtualMachineImage', uid: image.metadata.uid }) : undefined;
  return facts?.owned ? facts : undefined;
}

/** The VM's `image` disks, observed; undefined when it has none. */
export async function observeImageDisks(src: ImageSources, vm: VirtualMachine): Promise<ImageDiskObserved[] | undefined> {
  const disks = (vm.spec.disks ?? []).flatMap((d) => (d.image ? [{ name: d.name, image: d.image.name }] : []));
  if (!disks.length) return undefined;
  const out: ImageDiskObserved[] = [];
  for (const disk of disks) out.push(await observeDisk(src, vm, disk));
  return out;
}
