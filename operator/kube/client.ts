/**
 * ClusterApi: every call the operator makes to the API server, and nothing else. The list
 * is the operator's whole footprint: the Helm chart's RBAC is derived from it (and a test
 * compares the two). Each call is counted by verb, resource and response code.
 */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  StorageV1Api,
  type CoreV1Event,
  type KubeConfig,
  type V1NetworkPolicy,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1Secret,
  type V1Service,
  type V1StorageClass,
} from '@kubernetes/client-node';
import type { ImageStatus, VirtualMachineImage } from '../../api/schema/image.js';
import type { VirtualMachine, VmStatus } from '../../api/schema/vm.js';
import { makeTimedClient } from './timeout.js';

const GROUP = 'kubevmm.io';
const VERSION = 'v1alpha1';
const VMS = 'virtualmachines';
const IMAGES = 'virtualmachineimages';

/** The field manager of every write the operator makes (server-side apply needs one name). */
export const FIELD_MANAGER = 'kubevmm-operator';

/** One API call, as RBAC sees it. */
export interface ApiCall {
  verb: 'get' | 'list' | 'watch' | 'create' | 'patch' | 'delete' | 'update';
  group: string;
  resource: string;
  /**
   * `own-namespace`: only in the operator's namespace (a Role, not the ClusterRole).
   * `named`: only on the object the chart names (RBAC resourceNames).
   */
  scope?: 'own-namespace' | 'named';
  /** Granted only when the chart turns this option on. */
  feature?: 'launcherNetworkPolicy' | 'subresources';
}

/** Every call ClusterApi and the informers make: the operator's RBAC, exactly. */
export const OPERATOR_API_CALLS: readonly ApiCall[] = [
  { verb: 'list', group: GROUP, resource: VMS },
  { verb: 'watch', group: GROUP, resource: VMS },
  { verb: 'patch', group: GROUP, resource: VMS },
  { verb: 'patch', group: GROUP, resource: `${VMS}/status` },
  { verb: 'list', group: GROUP, resource: 'virtualmachineclasses' },
  { verb: 'watch', group: GROUP, resource: 'virtualmachineclasses' },
  { verb: 'list', group: '', resource: 'pods' },
  { verb: 'watch', group: '', resource: 'pods' },
  // Server-side apply of an absent object is a create: RBAC checks both verbs.
  { verb: 'create', group: '', resource: 'pods' },
  { verb: 'patch', group: '', resource: 'pods' },
  { verb: 'delete', group: '', resource: 'pods' },
  { verb: 'get', group: '', resource: 'persistentvolumeclaims' },
  // VirtualMachineImages: watched, status written; their claims and VM disks' claims created
  // (never adopted, changed or deleted: owner references delete them), a copied claim marked
  // populated by patch, and a StorageClass read to decide clone or copy.
  { verb: 'list', group: GROUP, resource: IMAGES },
  { verb: 'watch', group: GROUP, resource: IMAGES },
  // The finalizer of an image copying a claim of another namespace: its source pod there has no
  // owner reference (they cannot cross namespaces), so the image waits for the operator to delete it.
  { verb: 'patch', group: GROUP, resource: IMAGES },
  { verb: 'patch', group: GROUP, resource: `${IMAGES}/status` },
  { verb: 'create', group: '', resource: 'persistentvolumeclaims' },
  { verb: 'patch', group: '', resource: 'persistentvolumeclaims' },
  { verb: 'get', group: 'storage.k8s.io', resource: 'storageclasses' },
  // The headless Service giving a VM's attachment pods stable names (server-side apply).
  { verb: 'create', group: '', resource: 'services' },
  { verb: 'patch', group: '', resource: 'services' },
  // Per-VM credentials Secrets are written, never read (ADR 0009): create, and a replace
  // (update) when one of that name exists. Both answer with what was sent. No get, list,
  // watch, patch or delete: each of those returns a Secret's data to the caller.
  { verb: 'create', group: '', resource: 'secrets' },
  { verb: 'update', group: '', resource: 'secrets' },
  { verb: 'create', group: '', resource: 'events' },
  // launcherNetworkPolicy: the operator's NetworkPolicies in VM namespaces (server-side apply).
  { verb: 'create', group: 'networking.k8s.io', resource: 'networkpolicies', feature: 'launcherNetworkPolicy' },
  { verb: 'patch', group: 'networking.k8s.io', resource: 'networkpolicies', feature: 'launcherNetworkPolicy' },
  { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', scope: 'own-namespace' },
  { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', scope: 'own-namespace' },
  { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', scope: 'own-namespace' },
  // Read back only in its own namespace, by name: the launcher CA (operator/kube/launcher-ca.ts),
  // the webhook's self-managed certificates and, with subresources, the subresource server's
  // serving and client certificates (operator/kube/certificate-api.ts; created and renewed in
  // place by the create and update above). The serving CAs go into the operator's own webhook
  // configuration and APIService.
  { verb: 'get', group: '', resource: 'secrets', scope: 'own-namespace' },
  { verb: 'get', group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', scope: 'named' },
  // The webhook: may the user creating an image read the claim it copies from another namespace?
  // (operator/webhook/image.ts; a SubjectAccessReview for that user, never the operator's own rights.)
  { verb: 'create', group: 'authorization.k8s.io', resource: 'subjectaccessreviews' },
  { verb: 'patch', group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', scope: 'named' },
  // subresources: the leader keeps the APIService's caBundle (operator/subresource-credentials.ts).
  { verb: 'get', group: 'apiregistration.k8s.io', resource: 'apiservices', scope: 'named', feature: 'subresources' },
  { verb: 'patch', group: 'apiregistration.k8s.io', resource: 'apiservices', scope: 'named', feature: 'subresources' },
];

/** Observes each request: verb, resource, HTTP code (0 when no response came) and duration. */
export type RequestObserver = (verb: string, resource: string, code: number, seconds: number) => void;

/** Runs one API call and reports its verb, resource, HTTP code and duration to `observe`. */
export async function observedCall<T>(observe: RequestObserver, call: { verb: string; resource: string }, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  try {
    const result = await fn();
    observe(call.verb, call.resource, 200, seconds());
    return result;
  } catch (err) {
    observe(call.verb, call.resource, statusCode(err), seconds());
    throw err;
  }
}

/** The HTTP status of a failed call, or 0 for a network error. */
export function statusCode(err: unknown): number {
  return err instanceof ApiException ? err.code : 0;
}

/** A failed call's body as the API server's Status (`reason`, `message`), parsed when it came as text; undefined when it is not JSON. */
export function apiBody(err: unknown): { reason?: unknown; message?: unknown } | undefined {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body !== 'string') return (body ?? undefined) as { reason?: unknown; message?: unknown } | undefined;
  try {
    return JSON.parse(body) as { reason?: unknown; message?: unknown };
  } catch {
    return undefined;
  }
}

/** The API server's message of a failed call. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = apiBody(err);
    if (body === undefined && typeof err.body === 'string') return err.body; // not JSON: the text is the message
    const message = body?.message;
    return typeof message === 'string' ? message : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Typed access to the few API calls the operator makes. */
export class ClusterApi {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly networking: NetworkingV1Api;
  private readonly storage: StorageV1Api;

  constructor(
    kc: KubeConfig,
    private readonly observe: RequestObserver = () => undefined,
  ) {
    this.core = makeTimedClient(kc, CoreV1Api);
    this.custom = makeTimedClient(kc, CustomObjectsApi);
    this.networking = makeTimedClient(kc, NetworkingV1Api);
    this.storage = makeTimedClient(kc, StorageV1Api);
  }

  private call<T>(verb: string, resource: string, fn: () => Promise<T>): Promise<T> {
    return observedCall(this.observe, { verb, resource }, fn);
  }

  /** A read that answers undefined for an object that does not exist (404). */
  private async getOrUndefined<T>(resource: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.call('get', resource, fn);
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** A PVC, or undefined when it does not exist. */
  getPvc(namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined> {
    return this.getOrUndefined('persistentvolumeclaims', () => this.core.readNamespacedPersistentVolumeClaim({ namespace, name }));
  }

  /** Creates a PVC; 'exists' when one of that name does (409): the caller looks at it again, never takes it over. */
  async createPvc(pvc: V1PersistentVolumeClaim): Promise<'created' | 'exists'> {
    const namespace = pvc.metadata?.namespace ?? 'default';
    try {
      await this.call('create', 'persistentvolumeclaims', () => this.core.createNamespacedPersistentVolumeClaim({ namespace, body: pvc, fieldManager: FIELD_MANAGER }));
      return 'created';
    } catch (err) {
      if (statusCode(err) === 409) return 'exists';
      throw err;
    }
  }

  /** Sets annotations on a PVC kubevmm created (merge patch). */
  async annotatePvc(namespace: string, name: string, annotations: Record<string, string>): Promise<void> {
    const body = { metadata: { annotations } };
    await this.call('patch', 'persistentvolumeclaims', () =>
      this.core.patchNamespacedPersistentVolumeClaim({ namespace, name, body, fieldManager: FIELD_MANAGER }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    );
  }

  /** A StorageClass, or undefined when it does not exist. */
  getStorageClass(name: string): Promise<V1StorageClass | undefined> {
    return this.getOrUndefined('storageclasses', () => this.storage.readStorageClass({ name }));
  }

  /** Merge-patches an image's status, guarded by resourceVersion like patchVmStatus. */
  patchImageStatus(image: VirtualMachineImage, status: Record<string, unknown> | ImageStatus): Promise<VirtualMachineImage> {
    const { namespace = 'default', name, resourceVersion } = image.metadata;
    const body = { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), status };
    return this.call('patch', `${IMAGES}/status`, () =>
      this.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, plural: IMAGES, namespace, name, body, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    ) as Promise<VirtualMachineImage>;
  }

  /** A Secret in the operator's own namespace (RBAC allows no other), or undefined when it does not exist. */
  getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return this.getOrUndefined('secrets', () => this.core.readNamespacedSecret({ namespace, name }));
  }

  /** Creates a Secret; 'exists' when one of that name does (409). Never reads it. */
  async createSecret(secret: V1Secret): Promise<'created' | 'exists'> {
    const namespace = secret.metadata?.namespace ?? 'default';
    try {
      await this.call('create', 'secrets', () => this.core.createNamespacedSecret({ namespace, body: secret, fieldManager: FIELD_MANAGER }));
      return 'created';
    } catch (err) {
      if (statusCode(err) === 409) return 'exists';
      throw err;
    }
  }

  /** Replaces a Secret whole (no resourceVersion: the previous content is not needed, nor returned). */
  async replaceSecret(secret: V1Secret): Promise<void> {
    const namespace = secret.metadata?.namespace ?? 'default';
    const name = secret.metadata?.name ?? '';
    await this.call('update', 'secrets', () => this.core.replaceNamespacedSecret({ namespace, name, body: secret, fieldManager: FIELD_MANAGER }));
  }

  /** Creates or updates the pod by server-side apply with the operator's field manager. */
  applyPod(pod: V1Pod): Promise<V1Pod> {
    const namespace = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    return this.call('patch', 'pods', () =>
      this.core.patchNamespacedPod({ namespace, name, body: pod, fieldManager: FIELD_MANAGER, force: true }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply)),
    );
  }

  /** Creates or updates a Service by server-side apply (the hotplug Service of a VM). */
  applyService(service: V1Service): Promise<V1Service> {
    const namespace = service.metadata?.namespace ?? 'default';
    const name = service.metadata?.name ?? '';
    return this.call('patch', 'services', () =>
      this.core.patchNamespacedService({ namespace, name, body: service, fieldManager: FIELD_MANAGER, force: true }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply)),
    );
  }

  /** Creates or updates a NetworkPolicy by server-side apply (launcherNetworkPolicy mode); sent as given. */
  applyNetworkPolicy(policy: { metadata: { name: string; namespace: string } }): Promise<V1NetworkPolicy> {
    const { namespace, name } = policy.metadata;
    return this.call('patch', 'networkpolicies', () =>
      this.networking.patchNamespacedNetworkPolicy({ namespace, name, body: policy, fieldManager: FIELD_MANAGER, force: true }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply)),
    );
  }

  /**
   * Deletes a pod with its own grace period; a pod already gone is fine. With `uid`, only that
   * pod: a decision made on a cache that lags must not delete the newer pod now of its name.
   */
  async deletePod(namespace: string, name: string, uid?: string): Promise<void> {
    const body = uid ? { body: { preconditions: { uid } } } : {};
    try {
      await this.call('delete', 'pods', () => this.core.deleteNamespacedPod({ namespace, name, ...body }));
    } catch (err) {
      const code = statusCode(err);
      // 409 with a uid: the name now belongs to a newer pod, which this delete was not about.
      if (code !== 404 && !(uid && code === 409)) throw err;
    }
  }

  /** Sets an image's finalizers (kubevmm.io/source-cleanup of a cross-namespace copy), guarded by resourceVersion. */
  patchImageFinalizers(image: VirtualMachineImage, finalizers: string[]): Promise<VirtualMachineImage> {
    return this.patchFinalizers(IMAGES, image.metadata, finalizers) as Promise<VirtualMachineImage>;
  }

  /** Sets the VM's finalizers, guarded by resourceVersion so a concurrent change is not lost. */
  patchVmFinalizers(vm: VirtualMachine, finalizers: string[]): Promise<VirtualMachine> {
    return this.patchFinalizers(VMS, vm.metadata, finalizers) as Promise<VirtualMachine>;
  }

  /** A merge patch of one object's finalizers, failing with 409 when it changed since `metadata.resourceVersion`. */
  private patchFinalizers(plural: string, metadata: { namespace?: string; name: string; resourceVersion?: string }, finalizers: string[]): Promise<unknown> {
    const { namespace = 'default', name, resourceVersion } = metadata;
    const body = { metadata: { finalizers, ...(resourceVersion ? { resourceVersion } : {}) } };
    return this.call('patch', plural, () =>
      this.custom.patchNamespacedCustomObject({ group: GROUP, version: VERSION, plural, namespace, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    );
  }

  /**
   * Merge-patches the status subresource (null values remove fields), guarded by the
   * resourceVersion the status was computed from: a concurrent writer makes it fail with
   * 409 Conflict instead of one status silently overwriting the other.
   */
  patchVmStatus(vm: VirtualMachine, status: Record<string, unknown> | VmStatus): Promise<VirtualMachine> {
    const { namespace = 'default', name, resourceVersion } = vm.metadata;
    const body = { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), status };
    return this.call('patch', `${VMS}/status`, () =>
      this.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, plural: VMS, namespace, name, body, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    ) as Promise<VirtualMachine>;
  }

  /** Records an Event on the VM. */
  async createEvent(event: CoreV1Event): Promise<void> {
    const namespace = event.metadata?.namespace ?? 'default';
    await this.call('create', 'events', () => this.core.createNamespacedEvent({ namespace, body: event }));
  }
}
