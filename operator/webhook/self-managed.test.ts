import type { V1Secret, V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { certFacts, pemBlocks, signedBy } from '../pki/certs.js';
import type { JsonPatchOp, WebhookKubeApi } from './kube.js';
import { ensureCertificates, syncCaBundle } from './self-managed.js';

const DAY = 24 * 3600_000;

/** An in-memory API server for one Secret and one webhook configuration, with resourceVersions. */
class FakeKube implements WebhookKubeApi {
  secret: V1Secret | undefined;
  config: V1ValidatingWebhookConfiguration | undefined;
  writes: string[] = [];
  patches: JsonPatchOp[][] = [];
  private version = 0;
  private readonly tick = () => new Promise((r) => setImmediate(r));

  async getSecret() {
    await this.tick();
    return this.secret && structuredClone(this.secret);
  }
  async createSecret(secret: V1Secret) {
    await this.tick();
    if (this.secret) return 'exists' as const;
    this.writes.push('create');
    this.secret = { ...secret, metadata: { ...secret.metadata, resourceVersion: String(++this.version) } };
    return this.secret;
  }
  async replaceSecret(secret: V1Secret) {
    await this.tick();
    if (secret.metadata?.resourceVersion !== this.secret?.metadata?.resourceVersion) return 'conflict' as const;
    this.writes.push('update');
    this.secret = { ...secret, metadata: { ...secret.metadata, resourceVersion: String(++this.version) } };
    return this.secret;
  }
  async getWebhookConfiguration() {
    return this.config && structuredClone(this.config);
  }
  async patchWebhookConfiguration(_name: string, ops: readonly JsonPatchOp[]) {
    this.patches.push([...ops]);
  }
}

const data = (kube: FakeKube, key: string) => Buffer.from(kube.secret?.data?.[key] ?? '', 'base64').toString();
const SANS = ['kubevmm-webhook', 'kubevmm-webhook.kubevmm.svc', '127.0.0.1'];

describe('ensureCertificates', () => {
  const start = Date.now();
  const options = (kube: FakeKube, days = 0, sans = SANS) => ({ api: kube, namespace: 'kubevmm', secretName: 'kubevmm-webhook-tls', sans, now: () => new Date(start + days * DAY) });

  it('creates a kubernetes.io/tls Secret with the CA and a serving certificate for the names', async () => {
    const kube = new FakeKube();
    const certs = await ensureCertificates(options(kube));
    expect(certs.renewed).toBe('no CA yet');
    expect(kube.secret).toMatchObject({ type: 'kubernetes.io/tls', metadata: { name: 'kubevmm-webhook-tls', namespace: 'kubevmm' } });
    expect(Object.keys(kube.secret?.data ?? {}).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(data(kube, 'tls.crt')).toBe(certs.serving.certPem);
    expect(certs.caBundle).toBe(data(kube, 'ca.crt'));
    expect((await certFacts(certs.serving.certPem)).sans).toEqual(SANS);
    expect(await signedBy(certs.serving.certPem, certs.caBundle)).toBe(true);
  });

  it('reuses the Secret another replica wrote, without writing', async () => {
    const kube = new FakeKube();
    const first = await ensureCertificates(options(kube));
    const second = await ensureCertificates(options(kube, 1));
    expect(second).toEqual({ serving: first.serving, caBundle: first.caBundle });
    expect(kube.writes).toEqual(['create']);
  });

  it('lets the first of two racing replicas win; the other serves the winner’s certificate', async () => {
    const kube = new FakeKube();
    const [a, b] = await Promise.all([ensureCertificates(options(kube)), ensureCertificates(options(kube))]);
    expect(kube.writes).toEqual(['create']);
    expect(a.serving).toEqual(b.serving);
    expect(a.serving.certPem).toBe(data(kube, 'tls.crt'));
  });

  it('renews the serving certificate with less than a third of its 90 days left, under the same CA', async () => {
    const kube = new FakeKube();
    const first = await ensureCertificates(options(kube));
    expect((await ensureCertificates(options(kube, 59))).renewed).toBeUndefined();
    const renewed = await ensureCertificates(options(kube, 61));
    expect(renewed.renewed).toMatch(/the serving certificate expires at/);
    expect(renewed.serving.certPem).not.toBe(first.serving.certPem);
    expect(renewed.caBundle).toBe(first.caBundle);
    expect(kube.writes).toEqual(['create', 'update']);
  });

  it('renews the serving certificate when a name is added', async () => {
    const kube = new FakeKube();
    await ensureCertificates(options(kube));
    const renewed = await ensureCertificates(options(kube, 0, [...SANS, '10.0.0.1']));
    expect(renewed.renewed).toBe('the serving certificate does not name 10.0.0.1');
    expect((await certFacts(renewed.serving.certPem)).sans).toContain('10.0.0.1');
  });

  it('replaces the CA late in its five years and keeps trusting the old one in the bundle', async () => {
    const kube = new FakeKube();
    const first = await ensureCertificates(options(kube));
    const renewed = await ensureCertificates(options(kube, 4 * 365));
    expect(renewed.renewed).toMatch(/the CA expires at/);
    const bundle = pemBlocks(renewed.caBundle);
    expect(bundle).toHaveLength(2);
    expect(bundle[1]?.trim()).toBe(first.caBundle.trim());
    expect(await signedBy(renewed.serving.certPem, renewed.caBundle)).toBe(true);
  });

  it('replaces certificates it cannot read', async () => {
    const kube = new FakeKube();
    await ensureCertificates(options(kube));
    kube.secret = { ...kube.secret, data: { ...kube.secret?.data, 'ca.crt': Buffer.from('garbage').toString('base64') } };
    const renewed = await ensureCertificates(options(kube));
    expect(renewed.renewed).toBe('no CA yet');
    expect(await signedBy(renewed.serving.certPem, renewed.caBundle)).toBe(true);
  });
});

describe('syncCaBundle', () => {
  const bundle = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  const b64 = Buffer.from(bundle).toString('base64');

  it('patches every webhook whose caBundle differs, testing each name first', async () => {
    const kube = new FakeKube();
    kube.config = {
      metadata: { name: 'kubevmm' },
      webhooks: [
        { name: 'vms.validate.kubevmm.io', clientConfig: { caBundle: b64 }, admissionReviewVersions: ['v1'], sideEffects: 'None' },
        { name: 'classes.validate.kubevmm.io', clientConfig: {}, admissionReviewVersions: ['v1'], sideEffects: 'None' },
      ],
    };
    expect(await syncCaBundle(kube, 'kubevmm', bundle)).toBe(1);
    expect(kube.patches).toEqual([
      [
        { op: 'test', path: '/webhooks/1/name', value: 'classes.validate.kubevmm.io' },
        { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: b64 },
      ],
    ]);
  });

  it('does nothing when every bundle is current, and reports a missing configuration', async () => {
    const kube = new FakeKube();
    kube.config = { metadata: { name: 'kubevmm' }, webhooks: [{ name: 'a', clientConfig: { caBundle: b64 }, admissionReviewVersions: ['v1'], sideEffects: 'None' }] };
    expect(await syncCaBundle(kube, 'kubevmm', bundle)).toBe(0);
    expect(kube.patches).toEqual([]);
    kube.config = undefined;
    expect(await syncCaBundle(kube, 'kubevmm', bundle)).toBeUndefined();
  });
});
