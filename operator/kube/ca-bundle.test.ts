import { FakeCertificateApi } from '../../test/fakes/certificate-api.js';
import { syncApiServiceCaBundle, syncWebhookCaBundle } from './ca-bundle.js';

const bundle = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const b64 = Buffer.from(bundle).toString('base64');

describe('syncWebhookCaBundle', () => {
  it('patches every webhook whose caBundle differs, testing each name first', async () => {
    const kube = new FakeCertificateApi();
    kube.config = {
      metadata: { name: 'kubevmm' },
      webhooks: [
        { name: 'vms.validate.kubevmm.io', clientConfig: { caBundle: b64 }, admissionReviewVersions: ['v1'], sideEffects: 'None' },
        { name: 'classes.validate.kubevmm.io', clientConfig: {}, admissionReviewVersions: ['v1'], sideEffects: 'None' },
      ],
    };
    expect(await syncWebhookCaBundle(kube, 'kubevmm', bundle)).toBe(1);
    expect(kube.patches).toEqual([
      [
        { op: 'test', path: '/webhooks/1/name', value: 'classes.validate.kubevmm.io' },
        { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: b64 },
      ],
    ]);
  });

  it('does nothing when every bundle is current, and reports a missing configuration', async () => {
    const kube = new FakeCertificateApi();
    kube.config = { metadata: { name: 'kubevmm' }, webhooks: [{ name: 'a', clientConfig: { caBundle: b64 }, admissionReviewVersions: ['v1'], sideEffects: 'None' }] };
    expect(await syncWebhookCaBundle(kube, 'kubevmm', bundle)).toBe(0);
    expect(kube.patches).toEqual([]);
    kube.config = undefined;
    expect(await syncWebhookCaBundle(kube, 'kubevmm', bundle)).toBeUndefined();
  });
});

describe('syncApiServiceCaBundle', () => {
  const NAME = 'v1alpha1.subresources.kubevmm.io';
  const service = { namespace: 'kubevmm-system', name: 'kubevmm-subresources' };
  const apiService = (spec: Record<string, unknown> = {}) => ({
    metadata: { name: NAME },
    spec: { group: 'subresources.kubevmm.io', version: 'v1alpha1', groupPriorityMinimum: 1000, versionPriority: 15, service: { ...service, port: 443 }, ...spec },
  });

  it('sets the caBundle the chart left out, and then leaves a current one alone', async () => {
    const kube = new FakeCertificateApi();
    kube.apiService = apiService();
    expect(await syncApiServiceCaBundle(kube, NAME, bundle, service)).toBe(1);
    expect(kube.apiService.spec?.caBundle).toBe(b64);
    expect(await syncApiServiceCaBundle(kube, NAME, bundle, service)).toBe(0);
    expect(kube.patches).toHaveLength(1);
  });

  it('replaces a stale caBundle (a renewed CA), and says undefined when there is no APIService', async () => {
    const kube = new FakeCertificateApi();
    kube.apiService = apiService({ caBundle: Buffer.from('old').toString('base64') });
    expect(await syncApiServiceCaBundle(kube, NAME, bundle, service)).toBe(1);
    expect(kube.apiService.spec?.caBundle).toBe(b64);
    kube.apiService = undefined;
    expect(await syncApiServiceCaBundle(kube, NAME, bundle, service)).toBeUndefined();
  });

  it('never writes its CA into an APIService that points elsewhere (another installation), and says so', async () => {
    const kube = new FakeCertificateApi();
    kube.apiService = apiService({ service: { namespace: 'other', name: 'kubevmm-subresources', port: 443 } });
    await expect(syncApiServiceCaBundle(kube, NAME, bundle, service)).rejects.toThrow(/points at other\/kubevmm-subresources, not kubevmm-system\/kubevmm-subresources/);
    expect(kube.apiService.spec?.caBundle).toBeUndefined();
    expect(kube.patches).toEqual([]);
  });

  it('names the fix when insecureSkipTLSVerify is set', async () => {
    const kube = new FakeCertificateApi();
    kube.apiService = apiService({ insecureSkipTLSVerify: true });
    await expect(syncApiServiceCaBundle(kube, NAME, bundle, service)).rejects.toThrow(/insecureSkipTLSVerify.*remove it/);
  });

  it('guards the patch: an APIService repointed between the read and the write is not patched', async () => {
    const kube = new FakeCertificateApi();
    kube.apiService = apiService();
    const read = kube.getApiService.bind(kube);
    kube.getApiService = async (name) => {
      const seen = await read(name);
      kube.apiService = apiService({ service: { namespace: 'other', name: 'x', port: 443 } });
      return seen;
    };
    await expect(syncApiServiceCaBundle(kube, NAME, bundle, service)).rejects.toThrow(/test of \/spec\/service\/name failed/);
    expect(kube.apiService.spec?.caBundle).toBeUndefined();
  });
});
