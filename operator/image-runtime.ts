/**
 * The VirtualMachineImage controller's moving parts in the operator process: its two
 * supervised informers (images; importer pods, by their kubevmm.io/image label), its own work
 * queue (an import's progress polls never wait behind VM work, nor VMs behind them), and the
 * periodic resync. main.ts starts the informers in every replica and the queue in the leader.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import type { pino } from 'pino';
import type { VirtualMachineImage } from '../api/schema/image.js';
import { reconcileImage, type ImageControllerDeps } from './image-controller.js';
import { slimObject, slimPod } from './kube/cache-view.js';
import { createInformer, type Informer } from './kube/informer.js';
import { makeTimedClient } from './kube/timeout.js';
import type { OperatorMetrics } from './metrics.js';
import { WorkQueue, type Lane } from './queue.js';
import { IMAGE_LABEL } from './render/importer.js';
import { SOURCE_IMAGE_LABEL, SOURCE_NAMESPACE_LABEL, SOURCE_UID_LABEL } from './render/source-pod.js';

/** The image informers; `onImage` is how they ask for a reconcile. */
export function imageInformers(kc: KubeConfig, onImage: (ns: string | undefined, name: string, lane: Lane) => void, opts: { log: pino.Logger; metrics: OperatorMetrics }) {
  const custom = makeTimedClient(kc, CustomObjectsApi);
  const core = makeTimedClient(kc, CoreV1Api);
  const onError = (err: unknown) => opts.log.warn({ err: String(err) }, 'informer error');
  const restarts = (resource: string) => (reason: string) => {
    opts.metrics.informerRestarts.inc({ resource });
    opts.log.info({ resource, reason }, 'watch restarted');
  };
  const images = createInformer<KubernetesObject>({
    kc,
    path: '/apis/kubevmm.io/v1alpha1/virtualmachineimages',
    list: () => custom.listClusterCustomObject({ group: 'kubevmm.io', version: 'v1alpha1', plural: 'virtualmachineimages' }),
    transform: slimObject,
    onEvent: (_t, image) => onImage(image.metadata?.namespace, image.metadata?.name ?? '', 'normal'),
    onError,
    onRestart: restarts('virtualmachineimages'),
  });
  const importers = createInformer<V1Pod>({
    kc,
    path: '/api/v1/pods',
    labelSelector: IMAGE_LABEL,
    list: () => core.listPodForAllNamespaces({ labelSelector: IMAGE_LABEL }),
    transform: slimPod,
    onEvent: (_t, pod) => {
      const image = pod.metadata?.labels?.[IMAGE_LABEL];
      if (image) onImage(pod.metadata?.namespace, image, 'high');
    },
    onError,
    onRestart: restarts('importer-pods'),
  });
  // Source pods of cross-namespace copies (ADR 0019): an event reconciles the image their labels name.
  const sources = createInformer<V1Pod>({
    kc,
    path: '/api/v1/pods',
    labelSelector: SOURCE_UID_LABEL,
    list: () => core.listPodForAllNamespaces({ labelSelector: SOURCE_UID_LABEL }),
    transform: slimPod,
    onEvent: (_t, pod) => {
      const labels = pod.metadata?.labels ?? {};
      if (labels[SOURCE_IMAGE_LABEL] && labels[SOURCE_NAMESPACE_LABEL]) onImage(labels[SOURCE_NAMESPACE_LABEL], labels[SOURCE_IMAGE_LABEL], 'high');
    },
    onError,
    onRestart: restarts('image-source-pods'),
  });
  return { images: images as unknown as Informer<VirtualMachineImage>, importers, sources };
}

/** The leader's image queue: every image now, again every `resyncSeconds`. */
export function runImageQueue(deps: ImageControllerDeps, opts: { workers: number; resyncSeconds: number; log: pino.Logger }): WorkQueue {
  const queue = new WorkQueue({
    workers: opts.workers,
    baseDelayMs: 500,
    maxDelayMs: 60_000,
    handler: (key) => reconcileImage(deps, key),
    onError: (key: string, err: unknown, retryInMs: number) => opts.log.warn({ image: key, err: String(err), retryInMs }, 'image reconcile failed'),
  });
  const all = () => {
    deps.images.list().forEach((i) => queue.add(`${i.metadata.namespace ?? 'default'}/${i.metadata.name}`, 'normal'));
    // A source pod whose image is gone (deleted while no operator ran) gets its image's key: the reconcile deletes it.
    for (const pod of deps.sourcePods?.list() ?? []) {
      const labels = pod.metadata?.labels ?? {};
      const image = deps.images.get(labels[SOURCE_NAMESPACE_LABEL], labels[SOURCE_IMAGE_LABEL] ?? '');
      if (labels[SOURCE_NAMESPACE_LABEL] && labels[SOURCE_IMAGE_LABEL] && image?.metadata.uid !== labels[SOURCE_UID_LABEL]) queue.add(`${labels[SOURCE_NAMESPACE_LABEL]}/${labels[SOURCE_IMAGE_LABEL]}`, 'normal');
    }
  };
  all();
  setInterval(all, opts.resyncSeconds * 1000).unref();
  return queue;
}
