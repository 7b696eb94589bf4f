/**
 * The VirtualMachineImage controller: reconcile(key) reads the image (cache), its claim (API),
 * its importer pod (cache) and the importer's progress (GET /status), plans (pure,
 * reconcile/image-plan.ts) and executes. Level-triggered like the VM controller; its own work
 * queue, fed by the image informer and the importer pod informer.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { VirtualMachineImage } from '../api/schema/image.js';
import type { Store } from './controller.js';
import type { ClusterApi } from './kube/client.js';
import { executeImagePlan, type ImageExecutorDeps } from './kube/image-executor.js';
import type { LauncherClient } from './kube/launcher-client.js';
import { isSourcePodOf, observeImage } from './image-observe.js';
import type { Expectations } from './expectations.js';
import type { HandlerResult } from './queue.js';
import { importerState } from './reconcile/importer-state.js';
import { planImage, type ImageSettings } from './reconcile/image-plan.js';
import { importerPodName } from './render/importer.js';

/** What the image controller reads and writes through. */
export interface ImageControllerDeps extends ImageExecutorDeps {
  api: ClusterApi;
  images: Store<VirtualMachineImage>;
  /** Importer pods (labelled kubevmm.io/image). */
  pods: Store<V1Pod>;
  /** Source pods of cross-namespace copies, all namespaces (labelled kubevmm.io/source-for-uid). */
  sourcePods?: Store<V1Pod>;
  /** A client on the importer port (IMPORTER_PORT), presenting the operator's certificate. */
  importers: Pick<LauncherClient, 'importerStatus'>;
  settings: ImageSettings;
  expectations?: Expectations;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/**
 * The image is gone: its importer pod goes now (owner references would take it too, but
 * later), so a deleted image never keeps an import running; so do its source pods.
 */
async function forgetImage(deps: ImageControllerDeps, key: string, namespace: string, name: string): Promise<HandlerResult> {
  deps.expectations?.seen(key);
  const pod = deps.pods.get(namespace, importerPodName(name));
  const owner = pod?.metadata?.ownerReferences?.find((r) => r.controller);
  if (pod && owner?.kind === 'VirtualMachineImage' && owner.name === name && importerState(pod).phase !== 'deleting') {
    deps.log('image deleted: deleting its importer pod', { image: key });
    await deps.api.deletePod(namespace, importerPodName(name));
  }
  await forgetSourcePods(deps, key, namespace, name);
  return {};
}

/** No owner reference reaches a source pod in another namespace: an image gone while the operator was away (or without its finalizer) leaves it to this. */
async function forgetSourcePods(deps: ImageControllerDeps, key: string, namespace: string, name: string): Promise<void> {
  const orphans = (deps.sourcePods?.list() ?? []).filter((p) => isSourcePodOf(p, namespace, name) && !p.metadata?.deletionTimestamp);
  for (const { metadata } of orphans) {
    deps.log('image gone: deleting its source pod', { image: key, pod: `${metadata?.namespace}/${metadata?.name}` });
    await deps.api.deletePod(metadata?.namespace ?? 'default', metadata?.name ?? '');
  }
}

/** Reconciles one image; the image work queue's handler. */
export async function reconcileImage(deps: ImageControllerDeps, key: string): Promise<HandlerResult> {
  const [namespace, name] = splitKey(key);
  const image = deps.images.get(namespace, name);
  if (!image) return forgetImage(deps, key, namespace, name);
  const cached = deps.pods.get(namespace, importerPodName(name));
  if (cached) deps.expectations?.seen(key);
  const observed = await observeImage({ api: deps.api, images: deps.images, pods: deps.pods, importers: deps.importers, ...(deps.sourcePods ? { sourcePods: deps.sourcePods } : {}), log: deps.log }, image, deps.now());
  const plan = planImage(observed, deps.settings);
  const creates = plan.actions.some((a) => a.kind === 'createImporter');
  // An importer this operator just created is on its way to the cache: never a second one.
  if (creates && deps.expectations?.pending(key)) return { requeueAfterMs: 1000, lane: 'high' };
  if (plan.actions.length) deps.log('reconcile image', { image: key, actions: plan.actions.map((a) => a.kind), phase: plan.status.phase });
  const result = await executeImagePlan(deps, image, plan);
  if (creates) deps.expectations?.expect(key);
  return result;
}
