import { FakeCertificateApi } from '../../test/fakes/certificate-api.js';
import { certFacts, pemBlocks, signedBy } from '../pki/certs.js';
import { ensureServingCertificates } from './serving-secret.js';

const DAY = 24 * 3600_000;

const data = (kube: FakeCertificateApi, key: string) => kube.text('kubevmm', 'kubevmm-webhook-tls', key);
const SANS = ['kubevmm-webhook', 'kubevmm-webhook.kubevmm.svc', '127.0.0.1'];

describe('ensureServingCertificates', () => {
  const start = Date.now();
  const options = (kube: FakeCertificateApi, days = 0, sans = SANS) => ({ api: kube, namespace: 'kubevmm', secretName: 'kubevmm-webhook-tls', sans, caName: 'kubevmm-webhook-ca', now: () => new Date(start + days * DAY) });

  it('creates a kubernetes.io/tls Secret with the CA and a serving certificate for the names', async () => {
    const kube = new FakeCertificateApi();
    const certs = await ensureServingCertificates(options(kube));
    expect(certs.renewed).toBe('no CA yet');
    expect(kube.secret).toMatchObject({ type: 'kubernetes.io/tls', metadata: { name: 'kubevmm-webhook-tls', namespace: 'kubevmm' } });
    expect(Object.keys(kube.secret?.data ?? {}).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(data(kube, 'tls.crt')).toBe(certs.serving.certPem);
    expect(certs.caBundle).toBe(data(kube, 'ca.crt'));
    expect((await certFacts(certs.serving.certPem)).sans).toEqual(SANS);
    expect(await signedBy(certs.serving.certPem, certs.caBundle)).toBe(true);
  });

  it('reuses the Secret another replica wrote, without writing', async () => {
    const kube = new FakeCertificateApi();
    const first = await ensureServingCertificates(options(kube));
    const second = await ensureServingCertificates(options(kube, 1));
    expect(second).toEqual({ serving: first.serving, caBundle: first.caBundle });
    expect(kube.writes).toEqual(['create kubevmm/kubevmm-webhook-tls']);
  });

  it('lets the first of two racing replicas win; the other serves the winner’s certificate', async () => {
    const kube = new FakeCertificateApi();
    const [a, b] = await Promise.all([ensureServingCertificates(options(kube)), ensureServingCertificates(options(kube))]);
    expect(kube.writes).toEqual(['create kubevmm/kubevmm-webhook-tls']);
    expect(a.serving).toEqual(b.serving);
    expect(a.serving.certPem).toBe(data(kube, 'tls.crt'));
  });

  it('renews the serving certificate with less than a third of its 90 days left, under the same CA', async () => {
    const kube = new FakeCertificateApi();
    const first = await ensureServingCertificates(options(kube));
    expect((await ensureServingCertificates(options(kube, 59))).renewed).toBeUndefined();
    const renewed = await ensureServingCertificates(options(kube, 61));
    expect(renewed.renewed).toMatch(/the serving certificate expires at/);
    expect(renewed.serving.certPem).not.toBe(first.serving.certPem);
    expect(renewed.caBundle).toBe(first.caBundle);
    expect(kube.writes).toEqual(['create kubevmm/kubevmm-webhook-tls', 'update kubevmm/kubevmm-webhook-tls']);
  });

  it('renews the serving certificate when a name is added', async () => {
    const kube = new FakeCertificateApi();
    await ensureServingCertificates(options(kube));
    const renewed = await ensureServingCertificates(options(kube, 0, [...SANS, '10.0.0.1']));
    expect(renewed.renewed).toBe('the serving certificate does not name 10.0.0.1');
    expect((await certFacts(renewed.serving.certPem)).sans).toContain('10.0.0.1');
  });

  it('replaces the CA late in its five years and keeps trusting the old one in the bundle', async () => {
    const kube = new FakeCertificateApi();
    const first = await ensureServingCertificates(options(kube));
    const renewed = await ensureServingCertificates(options(kube, 4 * 365));
    expect(renewed.renewed).toMatch(/the CA expires at/);
    const bundle = pemBlocks(renewed.caBundle);
    expect(bundle).toHaveLength(2);
    expect(bundle[1]?.trim()).toBe(first.caBundle.trim());
    expect(await signedBy(renewed.serving.certPem, renewed.caBundle)).toBe(true);
  });

  it('replaces certificates it cannot read', async () => {
    const kube = new FakeCertificateApi();
    await ensureServingCertificates(options(kube));
    kube.secrets.set('kubevmm/kubevmm-webhook-tls', { ...kube.secret, data: { ...kube.secret?.data, 'ca.crt': Buffer.from('garbage').toString('base64') } });
    const renewed = await ensureServingCertificates(options(kube));
    expect(renewed.renewed).toBe('no CA yet');
    expect(await signedBy(renewed.serving.certPem, renewed.caBundle)).toBe(true);
  });

  it('names a CA it makes after its purpose, and one Secret never holds another purpose\'s CA', async () => {
    const kube = new FakeCertificateApi();
    const webhook = await ensureServingCertificates(options(kube));
    const subresources = await ensureServingCertificates({ ...options(kube), secretName: 'kubevmm-subresources-serving', caName: 'kubevmm-subresources-ca' });
    expect((await certFacts(webhook.caBundle)).commonName).toBe('kubevmm-webhook-ca');
    expect((await certFacts(subresources.caBundle)).commonName).toBe('kubevmm-subresources-ca');
    expect(await signedBy(subresources.serving.certPem, webhook.caBundle)).toBe(false);
    expect(kube.writes).toEqual(['create kubevmm/kubevmm-webhook-tls', 'create kubevmm/kubevmm-subresources-serving']);
  });
});
