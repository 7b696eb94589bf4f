/**
 * Every call the subresource server makes to the API server, and nothing else (ADR 0011): a
 * SubjectAccessReview per request, the VM and its launcher pod by name (or the image and its
 * importer pod, for an upload), and the front proxy's
 * ConfigMap. The list is the server's whole RBAC footprint ({@link SUBRESOURCE_SERVER_API_CALLS},
 * what the chart grants). Answers are cut down to the facts the server acts on.
 */
import {
  ApiException,
  AuthorizationV1Api,
  CoreV1Api,
  createConfiguration,
  CustomObjectsApi,
  ServerConfiguration,
  type KubeConfig,
  type Middleware,
  type RequestContext,
  type ResponseContext,
  type V1Pod,
  type V1SubjectAccessReview,
} from '@kubernetes/client-node';
import { z } from 'zod';
import { launcherPodName } from '../api/layout.js';
import { AUTHENTICATION_CONFIGMAP } from './auth/request-header.js';

/** One API call, as RBAC sees it. */
export interface ServerApiCall {
  verb: 'get' | 'create';
  group: string;
  resource: string;
  /** Only the named object (RBAC resourceNames), in its namespace. */
  only?: { namespace: string; name: string };
}

/** The server's rights, exactly: what the chart's ClusterRole and RoleBinding grant. */
export const SUBRESOURCE_SERVER_API_CALLS: readonly ServerApiCall[] = [
  { verb: 'create', group: 'authorization.k8s.io', resource: 'subjectaccessreviews' },
  { verb: 'get', group: 'kubevmm.io', resource: 'virtualmachines' },
  { verb: 'get', group: 'kubevmm.io', resource: 'virtualmachineimages' },
  { verb: 'get', group: '', resource: 'pods' },
  // The built-in Role extension-apiserver-authentication-reader grants this in kube-system.
  { verb: 'get', group: '', resource: 'configmaps', only: AUTHENTICATION_CONFIGMAP },
];

/** What the server needs of a VM. */
export interface VmFacts {
  uid: string;
  /** spec.devices.graphics as written (absent: the default, vnc). */
  graphics?: string;
}

/** What the server needs of a VirtualMachineImage to relay an upload. */
export interface ImageFacts {
  uid: string;
  /** The source kind set (upload, http, registry, pvc). */
  source?: string;
  phase?: string;
  /** status.importerPod: the operator's importer pod while it imports. */
  importerPod?: string;
}

/** What the server needs of a launcher pod. */
export interface PodFacts {
  /** The UID of the owner reference marked controller. */
  controllerUid?: string;
  podIP?: string;
  phase?: string;
}

/** The API server calls the request path makes; a fake stands in for it in unit tests. */
export interface SubresourceCluster {
  /** Creates a SubjectAccessReview; resolves with the API server's answer. */
  review(body: Record<string, unknown>): Promise<unknown>;
  /** The VM, or undefined when there is none of that name. */
  virtualMachine(namespace: string, name: string): Promise<VmFacts | undefined>;
  /** The VM's launcher pod (by its deterministic name), or undefined when there is none. */
  launcherPod(namespace: string, vmName: string): Promise<PodFacts | undefined>;
  /** The image, or undefined when there is none of that name. */
  virtualMachineImage(namespace: string, name: string): Promise<ImageFacts | undefined>;
  /** A pod by name (an image's importer), or undefined when there is none. */
  pod(namespace: string, name: string): Promise<PodFacts | undefined>;
  /** The data of kube-system/extension-apiserver-authentication. */
  authenticationData(): Promise<Record<string, string>>;
}

/** An API call failed; `code` is the HTTP status when the API server answered. */
export class KubeCallError extends Error {
  readonly reason = 'KubeCallFailed';
  override readonly name = 'KubeCallError';
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** Default deadline of one call: these are single-object reads, a slow one is a sick API server. */
export const KUBE_CALL_TIMEOUT_MS = 10_000;

const vmShape = z.object({
  metadata: z.object({ uid: z.string().min(1) }),
  spec: z.object({ devices: z.object({ graphics: z.string().optional() }).optional() }).optional(),
});

const imageShape = z.object({
  metadata: z.object({ uid: z.string().min(1) }),
  spec: z.object({ source: z.record(z.string(), z.unknown()).optional() }).optional(),
  status: z.object({ phase: z.string().optional(), importerPod: z.string().optional() }).optional(),
});

/** The facts of an image object. */
export function imageFacts(object: unknown): ImageFacts {
  const parsed = imageShape.safeParse(object);
  if (!parsed.success) throw new KubeCallError('the API server answered with a VirtualMachineImage without metadata.uid');
  const { metadata, spec, status } = parsed.data;
  const source = Object.keys(spec?.source ?? {})[0];
  return { uid: metadata.uid, ...(source ? { source } : {}), ...(status?.phase ? { phase: status.phase } : {}), ...(status?.importerPod ? { importerPod: status.importerPod } : {}) };
}

/** The facts of a pod object. */
export function podFacts(pod: V1Pod): PodFacts {
  const controller = pod.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  return {
    ...(controller ? { controllerUid: controller.uid } : {}),
    ...(pod.status?.podIP ? { podIP: pod.status.podIP } : {}),
    ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
  };
}

/** The facts of a VM object; a VM without a UID is not one the API server would serve. */
export function vmFacts(object: unknown): VmFacts {
  const parsed = vmShape.safeParse(object);
  if (!parsed.success) throw new KubeCallError('the API server answered with a VirtualMachine without metadata.uid');
  const graphics = parsed.data.spec?.devices?.graphics;
  return { uid: parsed.data.metadata.uid, ...(graphics ? { graphics } : {}) };
}

function deadline(timeoutMs: number): Middleware {
  return {
    pre: async (context: RequestContext) => {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return context;
    },
    post: async (response: ResponseContext) => response,
  };
}

/** The Status message of a refusal, whatever shape client-node kept the body in. */
function apiMessage(err: ApiException<unknown>): string {
  let body = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return body as string;
    }
  }
  const message = (body as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : err.message;
}

/** Runs a call; a 404 is `undefined`, anything else that fails a KubeCallError saying what was asked. */
async function call<T>(what: string, fn: () => Promise<T>, opts: { notFound?: 'undefined' } = {}): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiException) {
      if (err.code === 404 && opts.notFound) return undefined;
      throw new KubeCallError(`${what}: ${err.code} ${apiMessage(err)}`, err.code);
    }
    throw new KubeCallError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The calls, made with `kc`'s credentials (the server's ServiceAccount in a cluster). */
export class ClusterClient implements SubresourceCluster {
  private readonly core: CoreV1Api;
  private readonly authz: AuthorizationV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig, timeoutMs = KUBE_CALL_TIMEOUT_MS) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new KubeCallError('the kubeconfig names no current cluster');
    const config = createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kc }, promiseMiddleware: [deadline(timeoutMs)] });
    this.core = new CoreV1Api(config);
    this.authz = new AuthorizationV1Api(config);
    this.custom = new CustomObjectsApi(config);
  }

  async review(body: Record<string, unknown>): Promise<unknown> {
    return call('create SubjectAccessReview', () => this.authz.createSubjectAccessReview({ body: body as unknown as V1SubjectAccessReview }));
  }

  async virtualMachine(namespace: string, name: string): Promise<VmFacts | undefined> {
    const vm: unknown = await call(`get virtualmachines ${namespace}/${name}`, () => this.custom.getNamespacedCustomObject({ group: 'kubevmm.io', version: 'v1alpha1', plural: 'virtualmachines', namespace, name }), { notFound: 'undefined' });
    return vm === undefined ? undefined : vmFacts(vm);
  }

  async launcherPod(namespace: string, vmName: string): Promise<PodFacts | undefined> {
    const name = launcherPodName(vmName);
    const pod = await call(`get pods ${namespace}/${name}`, () => this.core.readNamespacedPod({ namespace, name }), { notFound: 'undefined' });
    return pod === undefined ? undefined : podFacts(pod);
  }

  async virtualMachineImage(namespace: string, name: string): Promise<ImageFacts | undefined> {
    const image: unknown = await call(`get virtualmachineimages ${namespace}/${name}`, () => this.custom.getNamespacedCustomObject({ group: 'kubevmm.io', version: 'v1alpha1', plural: 'virtualmachineimages', namespace, name }), { notFound: 'undefined' });
    return image === undefined ? undefined : imageFacts(image);
  }

  async pod(namespace: string, name: string): Promise<PodFacts | undefined> {
    const pod = await call(`get pods ${namespace}/${name}`, () => this.core.readNamespacedPod({ namespace, name }), { notFound: 'undefined' });
    return pod === undefined ? undefined : podFacts(pod);
  }

  async authenticationData(): Promise<Record<string, string>> {
    const { namespace, name } = AUTHENTICATION_CONFIGMAP;
    const configMap = await call(`get configmaps ${namespace}/${name}`, () => this.core.readNamespacedConfigMap({ namespace, name }));
    return configMap?.data ?? {};
  }
}
