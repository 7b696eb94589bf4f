import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { SUBRESOURCE_CLIENT_NAME } from '../../api/contract/subresource.js';
import { FakeCertificateApi } from '../../test/fakes/certificate-api.js';
import { createCa, issueCertificate } from '../pki/certs.js';
import { LAUNCHER_CA_LIFETIME_MS, type LauncherAuthority } from '../pki/launcher.js';
import { ensureClientSecret } from './client-secret.js';

const DAY = 24 * 3600_000;
const NS = 'kubevmm-system';
const NAME = 'kubevmm-subresources-client';

async function authority(): Promise<LauncherAuthority> {
  return { ca: await createCa(new Date(), 'kubevmm-launcher-ca', LAUNCHER_CA_LIFETIME_MS), deriveKey: Buffer.alloc(32, 7) };
}

describe('ensureClientSecret', () => {
  let launcherCa: LauncherAuthority;
  const start = Date.now();
  const options = (kube: FakeCertificateApi, days = 0, ca = launcherCa) => ({ api: kube, namespace: NS, secretName: NAME, authority: ca, commonName: SUBRESOURCE_CLIENT_NAME, now: () => new Date(start + days * DAY) });
  const text = (kube: FakeCertificateApi, key: string) => kube.text(NS, NAME, key);

  beforeAll(async () => {
    launcherCa = await authority();
  });

  it('writes a kubernetes.io/tls Secret: a 30-day clientAuth certificate CN=kubevmm-subresources,O=kubevmm of the launcher CA, its key, and the CA', async () => {
    const kube = new FakeCertificateApi();
    const state = await ensureClientSecret(options(kube));
    expect(state.renewed).toBe('no client certificate yet');
    expect(kube.secret).toMatchObject({ type: 'kubernetes.io/tls', metadata: { name: NAME, namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'kubevmm-operator' } } });
    expect(Object.keys(kube.secret?.data ?? {}).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    const cert = new X509Certificate(text(kube, 'tls.crt'));
    expect(cert.subject.split('\n').sort()).toEqual(['CN=kubevmm-subresources', 'O=kubevmm']);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth, and nothing else
    expect(cert.verify(new X509Certificate(launcherCa.ca.certPem).publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(text(kube, 'tls.key')))).toBe(true);
    expect(text(kube, 'ca.crt')).toBe(launcherCa.ca.certPem);
    expect(Math.round((Date.parse(cert.validTo) - start) / DAY)).toBe(30);
    expect(state.notAfter.getTime()).toBe(Date.parse(cert.validTo));
  });

  it('keeps it for 20 days, renews it with a third of its life left, and writes nothing in between', async () => {
    const kube = new FakeCertificateApi();
    const first = await ensureClientSecret(options(kube));
    const firstCert = text(kube, 'tls.crt');
    expect(await ensureClientSecret(options(kube, 19.9))).toEqual({ notAfter: first.notAfter });
    const renewed = await ensureClientSecret(options(kube, 20.1));
    expect(renewed.renewed).toMatch(/^the certificate expires at /);
    expect(text(kube, 'tls.crt')).not.toBe(firstCert);
    expect(renewed.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
    expect(kube.writes).toEqual([`create ${NS}/${NAME}`, `update ${NS}/${NAME}`]);
  });

  it('issues again under a new launcher CA, with that CA in ca.crt', async () => {
    const kube = new FakeCertificateApi();
    await ensureClientSecret(options(kube));
    const next = await authority();
    expect((await ensureClientSecret(options(kube, 1, next))).renewed).toBe('the certificate is not signed by the launcher CA (was the CA replaced?)');
    expect(text(kube, 'ca.crt')).toBe(next.ca.certPem);
    expect(new X509Certificate(text(kube, 'tls.crt')).verify(new X509Certificate(next.ca.certPem).publicKey)).toBe(true);
  });

  it('replaces a Secret someone filled with another client’s certificate, or with garbage', async () => {
    const kube = new FakeCertificateApi();
    const operatorCert = await issueCertificate(launcherCa.ca, { subject: 'CN=kubevmm-operator,O=kubevmm', sans: [], usage: 'client', lifetimeMs: 30 * DAY, now: new Date(start) });
    const data = (d: Record<string, string>) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    kube.secrets.set(`${NS}/${NAME}`, { metadata: { name: NAME, namespace: NS, resourceVersion: '1' }, type: 'kubernetes.io/tls', data: data({ 'tls.crt': operatorCert.certPem, 'tls.key': operatorCert.keyPem, 'ca.crt': launcherCa.ca.certPem }) });
    expect((await ensureClientSecret(options(kube))).renewed).toBe('the certificate is for "kubevmm-operator", not "kubevmm-subresources"');
    kube.secrets.set(`${NS}/${NAME}`, { ...kube.secret, data: data({ 'tls.crt': 'garbage', 'tls.key': 'x', 'ca.crt': 'y' }) });
    expect((await ensureClientSecret(options(kube))).renewed).toBe('no client certificate yet');
  });

  it('lets the first of two racing writers win; both then report the winner’s certificate', async () => {
    const kube = new FakeCertificateApi();
    const [a, b] = await Promise.all([ensureClientSecret(options(kube)), ensureClientSecret(options(kube))]);
    expect(kube.writes).toEqual([`create ${NS}/${NAME}`]);
    expect(a.notAfter).toEqual(b.notAfter);
  });

  it('gives a launcher of that CA a client it accepts (the handshake, with the Secret’s files)', async () => {
    const kube = new FakeCertificateApi();
    await ensureClientSecret(options(kube));
    const serving = await issueCertificate(launcherCa.ca, { subject: 'CN=launcher', sans: ['launcher.kubevmm.invalid'], usage: 'server', lifetimeMs: DAY, now: new Date() });
    const server = createServer({ cert: serving.certPem, key: serving.keyPem, ca: launcherCa.ca.certPem, requestCert: true, rejectUnauthorized: true }, (s) => {
      const peer = s.getPeerCertificate();
      s.end(String(peer.subject.CN));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, servername: 'launcher.kubevmm.invalid', ca: text(kube, 'ca.crt'), cert: text(kube, 'tls.crt'), key: text(kube, 'tls.key') }, () => socket.once('data', (d) => resolve(d.toString())));
        socket.once('error', reject);
      });
      expect(answer).toBe(SUBRESOURCE_CLIENT_NAME);
    } finally {
      server.close();
    }
  });
});
