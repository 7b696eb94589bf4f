/**
 * The API calls of the self-managed certificates: the shared Secret (get, create, replace
 * guarded by resourceVersion) and the caBundle of the ValidatingWebhookConfiguration (get,
 * JSON patch). Listed in OPERATOR_API_CALLS. Never called per admission request.
 */
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Secret,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { FIELD_MANAGER, observedCall, statusCode, type RequestObserver } from '../kube/client.js';
import { makeTimedClient } from '../kube/timeout.js';

/** One JSON patch operation (RFC 6902) of the kinds the caBundle patch uses. */
export interface JsonPatchOp {
  op: 'test' | 'add';
  path: string;
  value: unknown;
}

/** What the certificate manager needs from the cluster (a fake stands in for it in tests). */
export interface WebhookKubeApi {
  getSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** Creates the Secret; 'exists' when another replica created it first (409). */
  createSecret(secret: V1Secret): Promise<V1Secret | 'exists'>;
  /** Replaces the Secret at the resourceVersion it carries; 'conflict' when it changed since (409). */
  replaceSecret(secret: V1Secret): Promise<V1Secret | 'conflict'>;
  getWebhookConfiguration(name: string): Promise<V1ValidatingWebhookConfiguration | undefined>;
  patchWebhookConfiguration(name: string, ops: readonly JsonPatchOp[]): Promise<void>;
}

const SECRETS = 'secrets';
const CONFIGS = 'validatingwebhookconfigurations';

/** WebhookKubeApi on the real API server, each call counted like ClusterApi's. */
export class WebhookKube implements WebhookKubeApi {
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;

  constructor(
    kc: KubeConfig,
    private readonly observe: RequestObserver = () => undefined,
  ) {
    this.core = makeTimedClient(kc, CoreV1Api);
    this.admission = makeTimedClient(kc, AdmissionregistrationV1Api);
  }

  /** Runs a call; an HTTP status in `expected` becomes `undefined` instead of a throw. */
  private async call<T>(verb: string, resource: string, fn: () => Promise<T>, expected?: number): Promise<T | undefined> {
    try {
      return await observedCall(this.observe, { verb, resource }, fn);
    } catch (err) {
      if (expected !== undefined && statusCode(err) === expected) return undefined;
      throw err;
    }
  }

  getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return this.call('get', SECRETS, () => this.core.readNamespacedSecret({ namespace, name }), 404);
  }

  async createSecret(secret: V1Secret): Promise<V1Secret | 'exists'> {
    const namespace = secret.metadata?.namespace ?? 'default';
    const created = await this.call('create', SECRETS, () => this.core.createNamespacedSecret({ namespace, body: secret, fieldManager: FIELD_MANAGER }), 409);
    return created ?? 'exists';
  }

  async replaceSecret(secret: V1Secret): Promise<V1Secret | 'conflict'> {
    const namespace = secret.metadata?.namespace ?? 'default';
    const name = secret.metadata?.name ?? '';
    const replaced = await this.call('update', SECRETS, () => this.core.replaceNamespacedSecret({ namespace, name, body: secret, fieldManager: FIELD_MANAGER }), 409);
    return replaced ?? 'conflict';
  }

  getWebhookConfiguration(name: string): Promise<V1ValidatingWebhookConfiguration | undefined> {
    return this.call('get', CONFIGS, () => this.admission.readValidatingWebhookConfiguration({ name }), 404);
  }

  async patchWebhookConfiguration(name: string, ops: readonly JsonPatchOp[]): Promise<void> {
    await this.call('patch', CONFIGS, () =>
      this.admission.patchValidatingWebhookConfiguration({ name, body: ops, fieldManager: FIELD_MANAGER }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)),
    );
  }
}
