import { X509Certificate } from 'node:crypto';
import { FakeCertificateApi } from '../test/fakes/certificate-api.js';
import { certFacts, createCa, signedBy } from './pki/certs.js';
import { LAUNCHER_CA_LIFETIME_MS, type LauncherAuthority } from './pki/launcher.js';
import { checkSubresourceCredentials, runSubresourceCredentials, type SubresourceCredentialsOptions } from './subresource-credentials.js';

const DAY = 24 * 3600_000;

/** Polls until `cond` holds (the loop runs on timers), failing after 10 s. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !cond(); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}
const NS = 'kubevmm-system';
const settings = { service: 'kubevmm-subresources', servingSecret: 'kubevmm-subresources-serving', clientSecret: 'kubevmm-subresources-client', apiService: 'v1alpha1.subresources.kubevmm.io' };

function apiService(kube: FakeCertificateApi) {
  kube.apiService = {
    metadata: { name: settings.apiService },
    spec: { group: 'subresources.kubevmm.io', version: 'v1alpha1', groupPriorityMinimum: 1000, versionPriority: 15, service: { namespace: NS, name: settings.service, port: 443 } },
  };
}

describe('the subresource server’s credentials', () => {
  let authority: LauncherAuthority;
  const lines: string[] = [];
  const log = { info: (_f: object, msg: string) => lines.push(msg), warn: (_f: object, msg: string) => lines.push(`warn: ${msg}`) };
  const start = Date.now();
  const options = (kube: FakeCertificateApi, days = 0): SubresourceCredentialsOptions => ({ settings, api: kube, namespace: NS, authority, log, now: () => new Date(start + days * DAY) });

  beforeAll(async () => {
    authority = { ca: await createCa(new Date(), 'kubevmm-launcher-ca', LAUNCHER_CA_LIFETIME_MS), deriveKey: Buffer.alloc(32, 1) };
  });
  beforeEach(() => lines.splice(0));

  it('first check: writes both Secrets and gives the APIService the serving CA; the server’s certificate names its Service', async () => {
    const kube = new FakeCertificateApi();
    apiService(kube);
    const check = await checkSubresourceCredentials(options(kube));
    expect(kube.writes).toEqual([`create ${NS}/${settings.clientSecret}`, `create ${NS}/${settings.servingSecret}`]);
    expect(check.apiService).toBe('patched');
    const caBundle = kube.text(NS, settings.servingSecret, 'ca.crt');
    expect(Buffer.from(kube.apiService?.spec?.caBundle ?? '', 'base64').toString()).toBe(caBundle);
    const serving = kube.text(NS, settings.servingSecret, 'tls.crt');
    expect(new X509Certificate(serving).checkHost('kubevmm-subresources.kubevmm-system.svc')).toBe('kubevmm-subresources.kubevmm-system.svc');
    expect(await signedBy(serving, caBundle)).toBe(true);
    expect((await certFacts(caBundle)).commonName).toBe('kubevmm-subresources-ca');
    expect((await certFacts(kube.text(NS, settings.clientSecret, 'tls.crt'))).commonName).toBe('kubevmm-subresources');
    expect(lines).toEqual(['subresource server client certificate written', 'subresource server serving certificate written', 'APIService caBundle updated']);
  });

  it('later checks write nothing until the client certificate is due (day 20 of 30), then renew only it', async () => {
    const kube = new FakeCertificateApi();
    apiService(kube);
    await checkSubresourceCredentials(options(kube));
    const serving = kube.text(NS, settings.servingSecret, 'tls.crt');
    expect((await checkSubresourceCredentials(options(kube, 19))).apiService).toBe('current');
    expect(kube.writes).toHaveLength(2);
    await checkSubresourceCredentials(options(kube, 21));
    expect(kube.writes.slice(2)).toEqual([`update ${NS}/${settings.clientSecret}`]);
    expect(kube.text(NS, settings.servingSecret, 'tls.crt')).toBe(serving);
  });

  it('keeps the Secrets when the APIService is missing, and says so once while running', async () => {
    const kube = new FakeCertificateApi();
    expect((await checkSubresourceCredentials(options(kube))).apiService).toBe('missing');
    expect(kube.writes).toHaveLength(2);
    lines.splice(0);
    let looks = 0;
    const get = kube.getApiService.bind(kube);
    kube.getApiService = (name) => (looks++, get(name));
    const stop = runSubresourceCredentials({ ...options(kube), certCheckMs: 20, caBundleSyncMs: 5 });
    try {
      await until('five looks at the APIService', () => looks >= 5);
      expect(lines.filter((l) => l.startsWith('warn: APIService not found'))).toHaveLength(1);
      apiService(kube);
      await until('the caBundle', () => lines.includes('APIService caBundle updated'));
    } finally {
      stop();
    }
    expect(Buffer.from(kube.apiService?.spec?.caBundle ?? '', 'base64').toString()).toBe(kube.text(NS, settings.servingSecret, 'ca.crt'));
  });

  it('repairs a caBundle reset by a helm upgrade --force within one caBundle tick, without writing Secrets', async () => {
    const kube = new FakeCertificateApi();
    apiService(kube);
    const stop = runSubresourceCredentials({ ...options(kube), certCheckMs: 3600_000, caBundleSyncMs: 5 });
    try {
      await until('the first caBundle', () => !!kube.apiService?.spec?.caBundle);
      const writes = kube.writes.length;
      apiService(kube); // the chart's object again: no caBundle
      await until('the caBundle again', () => !!kube.apiService?.spec?.caBundle);
      expect(kube.writes).toHaveLength(writes);
    } finally {
      stop();
    }
  });

  it('logs a failure and retries on the next tick', async () => {
    const kube = new FakeCertificateApi();
    apiService(kube);
    const get = kube.getSecret.bind(kube);
    let failures = 1;
    kube.getSecret = async (ns, name) => {
      if (failures-- > 0) throw new Error('connection refused');
      return get(ns, name);
    };
    const stop = runSubresourceCredentials({ ...options(kube), certCheckMs: 3600_000, caBundleSyncMs: 5 });
    try {
      await until('the caBundle after a failed first check', () => !!kube.apiService?.spec?.caBundle);
    } finally {
      stop();
    }
    expect(lines[0]).toBe('warn: subresource server credentials not checked; will retry');
    expect(kube.writes).toHaveLength(2);
  });
});
