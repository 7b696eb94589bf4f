/**
 * An in-memory API server for the operator's certificate calls (operator/kube/certificate-api.ts):
 * Secrets with resourceVersions (create answers 'exists', a stale replace 'conflict', as the
 * API server's 409s), one ValidatingWebhookConfiguration and one APIService that record the
 * JSON patches they receive and apply the APIService's (its `test` operations included).
 */
import type { V1APIService, V1Secret, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import type { ApiServiceApi, JsonPatchOp, SecretStore, WebhookConfigurationApi } from '../../operator/kube/certificate-api.js';

export class FakeCertificateApi implements SecretStore, WebhookConfigurationApi, ApiServiceApi {
  readonly secrets = new Map<string, V1Secret>();
  config: V1ValidatingWebhookConfiguration | undefined;
  apiService: V1APIService | undefined;
  /** 'create <ns>/<name>' and 'update <ns>/<name>', in order. */
  writes: string[] = [];
  patches: JsonPatchOp[][] = [];
  private version = 0;
  // Each call yields, so concurrent callers interleave as they would against a server.
  private readonly tick = () => new Promise((r) => setImmediate(r));

  private key(secret: V1Secret): string {
    return `${secret.metadata?.namespace ?? ''}/${secret.metadata?.name ?? ''}`;
  }

  /** The one Secret stored (most tests keep one). */
  get secret(): V1Secret | undefined {
    return [...this.secrets.values()][0];
  }

  /** One key of a stored Secret, decoded. */
  text(namespace: string, name: string, key: string): string {
    return Buffer.from(this.secrets.get(`${namespace}/${name}`)?.data?.[key] ?? '', 'base64').toString();
  }

  async getSecret(namespace: string, name: string) {
    await this.tick();
    const found = this.secrets.get(`${namespace}/${name}`);
    return found && structuredClone(found);
  }

  async createSecret(secret: V1Secret) {
    await this.tick();
    if (this.secrets.has(this.key(secret))) return 'exists' as const;
    return this.store(secret, 'create');
  }

  async replaceSecret(secret: V1Secret) {
    await this.tick();
    if (secret.metadata?.resourceVersion !== this.secrets.get(this.key(secret))?.metadata?.resourceVersion) return 'conflict' as const;
    return this.store(secret, 'update');
  }

  private store(secret: V1Secret, verb: string): V1Secret {
    this.writes.push(`${verb} ${this.key(secret)}`);
    const stored = { ...structuredClone(secret), metadata: { ...secret.metadata, resourceVersion: String(++this.version) } };
    this.secrets.set(this.key(secret), stored);
    return structuredClone(stored);
  }

  async getWebhookConfiguration(_name: string) {
    return this.config && structuredClone(this.config);
  }

  async patchWebhookConfiguration(_name: string, ops: readonly JsonPatchOp[]) {
    this.patches.push([...ops]);
  }

  async getApiService(_name: string) {
    await this.tick();
    return this.apiService && structuredClone(this.apiService);
  }

  /** Applies `test` and `add` on /spec/... paths; a failed test throws, as the API server answers 422. */
  async patchApiService(_name: string, ops: readonly JsonPatchOp[]) {
    await this.tick();
    this.patches.push([...ops]);
    const next = structuredClone(this.apiService) as unknown as Record<string, Record<string, unknown>>;
    for (const op of ops) {
      const path = op.path.split('/').slice(1);
      const parent = path.slice(0, -1).reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, next);
      const last = path[path.length - 1]!;
      if (op.op === 'test' && parent[last] !== op.value) throw new Error(`the server rejected the patch: test of ${op.path} failed`);
      if (op.op === 'add') parent[last] = op.value;
    }
    this.apiService = next as unknown as V1APIService;
  }
}
