/**
 * What the operator's informers keep of each object (client-go's informer transform).
 *
 * The caches hold every VM and every launcher and attachment pod of the cluster, so their
 * size is the operator's memory at scale: a launcher pod is 17.8 KB of JSON with its
 * `managedFields`, 8.8 KB without, and the operator reads a dozen of its fields. These
 * functions run on each listed or watched object before it enters a cache; nothing else is
 * kept. Writes never start from a cached object (pods are applied whole from the renderer,
 * VM status is a merge patch), so nothing is lost on the way back to the API server.
 */
import type { KubernetesObject, V1ContainerStatus, V1ObjectMeta, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { BOOT_DISKS_ANNOTATION, SPEC_HASH_ANNOTATION, STARTED_AT_ANNOTATION } from '../../api/layout.js';
import { RESTART_ANNOTATION } from '../reconcile/lifecycle.js';
import { IMPORT_ANNOTATION } from '../../api/contract/importer.js';
import { GENERATION_ANNOTATION } from '../render/importer.js';

/**
 * The pod annotations the operator reads (the resolved VM's is dropped: it is the renderer's
 * output). An importer's task is kept: a cross-namespace importer is checked against the
 * source pod its task points at.
 */
const KEPT_POD_ANNOTATIONS = [SPEC_HASH_ANNOTATION, STARTED_AT_ANNOTATION, RESTART_ANNOTATION, BOOT_DISKS_ANNOTATION, GENERATION_ANNOTATION, IMPORT_ANNOTATION];

/** Annotations nothing in the operator reads and that repeat the object (kubectl's client-side apply). */
const DROPPED_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration'];

/**
 * A VM or class as the caches keep it: without `managedFields` and kubectl's copy of the
 * last applied object. Everything else stays: the webhook validates VMs from this cache.
 */
export function slimObject<T extends KubernetesObject>(obj: T): T {
  const metadata = obj.metadata;
  if (!metadata) return obj;
  const { managedFields: _managed, annotations, ...rest } = metadata;
  const kept = annotations ? Object.fromEntries(Object.entries(annotations).filter(([k]) => !DROPPED_ANNOTATIONS.includes(k))) : undefined;
  return { ...obj, metadata: { ...rest, ...(kept && Object.keys(kept).length ? { annotations: kept } : {}) } };
}

function slimMeta(meta: V1ObjectMeta | undefined): V1ObjectMeta {
  const m = meta ?? {};
  const kept = Object.fromEntries(KEPT_POD_ANNOTATIONS.flatMap((k) => (m.annotations?.[k] !== undefined ? [[k, m.annotations[k]]] : [])));
  return {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    ...(m.creationTimestamp ? { creationTimestamp: m.creationTimestamp } : {}),
    ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
    ...(Object.keys(kept).length ? { annotations: kept } : {}),
    ...(m.ownerReferences ? { ownerReferences: m.ownerReferences } : {}),
  };
}

function slimCondition(c: V1PodCondition): V1PodCondition {
  return { type: c.type, status: c.status, ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}) };
}

/**
 * A container's name, readiness, why it waits (an image that cannot be pulled) and how it
 * ended (the launcher's termination message).
 */
function slimContainer(c: V1ContainerStatus): V1ContainerStatus {
  const terminated = c.state?.terminated;
  const waiting = c.state?.waiting;
  const last = c.lastState?.terminated;
  return {
    name: c.name,
    ready: c.ready,
    ...(terminated ? { state: { terminated } } : waiting ? { state: { waiting: { reason: waiting.reason, message: waiting.message } } } : {}),
    ...(last ? { lastState: { terminated: last } } : {}),
  } as V1ContainerStatus;
}

/**
 * The node, the launcher container's image (an upgrade leaves running VMs on the old one) and
 * the claims the pod mounts (one read-write user per claim is decided from what really mounts it).
 */
function slimSpec(spec: V1Pod['spec']): V1Pod['spec'] | undefined {
  if (!spec) return undefined;
  const launcher = spec.containers.find((c) => c.name === 'launcher');
  const claims = (spec.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [{ name: v.name, persistentVolumeClaim: v.persistentVolumeClaim }] : []));
  return {
    ...(spec.nodeName ? { nodeName: spec.nodeName } : {}),
    containers: launcher ? [{ name: launcher.name, image: launcher.image }] : [],
    ...(claims.length ? { volumes: claims } : {}),
  };
}

/**
 * A launcher or attachment pod as the caches keep it: identity, labels, the spec-hash
 * annotation, its node, and the status fields that decide a VM's state (phase, IP,
 * conditions, how the containers ended). The pod's spec (containers, volumes, the resolved
 * VM in its annotation) is the renderer's output and is never read back from the cache.
 */
export function slimPod(pod: V1Pod): V1Pod {
  const spec = slimSpec(pod.spec);
  return { metadata: slimMeta(pod.metadata), ...(spec ? { spec } : {}), status: slimStatus(pod.status) };
}

function slimStatus(s: V1Pod['status']): NonNullable<V1Pod['status']> {
  return {
    ...(s?.phase ? { phase: s.phase } : {}),
    ...(s?.podIP ? { podIP: s.podIP } : {}),
    ...(s?.reason ? { reason: s.reason } : {}),
    ...(s?.message ? { message: s.message } : {}),
    ...(s?.conditions ? { conditions: s.conditions.map(slimCondition) } : {}),
    ...(s?.initContainerStatuses ? { initContainerStatuses: s.initContainerStatuses.map(slimContainer) } : {}),
    ...(s?.containerStatuses ? { containerStatuses: s.containerStatuses.map(slimContainer) } : {}),
  };
}
