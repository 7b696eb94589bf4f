/**
 * The API calls of the certificates the operator keeps in Secrets of its own namespace (the
 * webhook's and the subresource server's serving certificates, the subresource server's
 * launcher client certificate) and of the caBundles it copies out of them: the Secrets (get,
 * create, replace guarded by resourceVersion), the ValidatingWebhookConfiguration and the
 * APIService (get, JSON patch). Listed in OPERATOR_API_CALLS. Never called per request.
 */
import {
  AdmissionregistrationV1Api,
  ApiregistrationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1APIService,
  type V1Secret,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { FIELD_MANAGER, observedCall, statusCode, type RequestObserver } from './client.js';
import { makeTimedClient } from './timeout.js';

/** One JSON patch operation (RFC 6902) of the kinds the caBundle patches use. */
export interface JsonPatchOp {
  op: 'test' | 'add';
  path: string;
  value: unknown;
}

/** The Secret calls of a certificate kept in a Secret (a fake stands in for them in tests). */
export interface SecretStore {
  getSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** Creates the Secret; 'exists' when another writer created it first (409). */
  createSecret(secret: V1Secret): Promise<V1Secret | 'exists'>;
  /** Replaces the Secret at the resourceVersion it carries; 'conflict' when it changed since (409). */
  replaceSecret(secret: V1Secret): Promise<V1Secret | 'conflict'>;
}

/** The webhook configuration whose caBundle the operator keeps current. */
export interface WebhookConfigurationApi {
  getWebhookConfiguration(name: string): Promise<V1ValidatingWebhookConfiguration | undefined>;
  patchWebhookConfiguration(name: string, ops: readonly JsonPatchOp[]): Promise<void>;
}

/** The APIService whose caBundle the operator keeps current. */
export interface ApiServiceApi {
  getApiService(name: string): Promise<V1APIService | undefined>;
  patchApiService(name: string, ops: readonly JsonPatchOp[]): Promise<void>;
}

const SECRETS = 'secrets';
const CONFIGS = 'validatingwebhookconfigurations';
const API_SERVICES = 'apiservices';
const jsonPatch = () => setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** All three on the real API server, each call counted like ClusterApi's. */
export class CertificateKube implements SecretStore, WebhookConfigurationApi, ApiServiceApi {
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  private readonly registration: ApiregistrationV1Api;

  constructor(
    kc: KubeConfig,
    private readonly observe: RequestObserver = () => undefined,
  ) {
    this.core = makeTimedClient(kc, CoreV1Api);
    this.admission = makeTimedClient(kc, AdmissionregistrationV1Api);
    this.registration = makeTimedClient(kc, ApiregistrationV1Api);
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
    await this.call('patch', CONFIGS, () => this.admission.patchValidatingWebhookConfiguration({ name, body: ops, fieldManager: FIELD_MANAGER }, jsonPatch()));
  }

  getApiService(name: string): Promise<V1APIService | undefined> {
    return this.call('get', API_SERVICES, () => this.registration.readAPIService({ name }), 404);
  }

  async patchApiService(name: string, ops: readonly JsonPatchOp[]): Promise<void> {
    await this.call('patch', API_SERVICES, () => this.registration.patchAPIService({ name, body: ops, fieldManager: FIELD_MANAGER }, jsonPatch()));
  }
}
