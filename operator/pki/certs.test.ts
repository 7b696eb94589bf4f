import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { certFacts, createCa, createServing, pemBlocks, signedBy } from './certs.js';
import { planCertificates, rotationDue, serviceSans, type CertFacts } from './serving-policy.js';

const DAY = 24 * 3600_000;
const NOW = new Date('2026-06-01T00:00:00Z');
const at = (days: number) => new Date(NOW.getTime() + days * DAY);

describe('serviceSans', () => {
  it('names the Service as the API server resolves it, then the extra names, without repeats', () => {
    expect(serviceSans('kubevmm-webhook', 'kubevmm-system', ['127.0.0.1', ' ', 'kubevmm-webhook'])).toEqual([
      'kubevmm-webhook',
      'kubevmm-webhook.kubevmm-system',
      'kubevmm-webhook.kubevmm-system.svc',
      'kubevmm-webhook.kubevmm-system.svc.cluster.local',
      '127.0.0.1',
    ]);
  });
});

describe('rotationDue', () => {
  const ninetyDays = { notBefore: NOW, notAfter: at(90) };
  it.each([
    [0, false],
    [59, false],
    [60.01, true], // less than 30 of 90 days left
    [89, true],
    [91, true], // expired
    [-1, true], // not valid yet: the clock jumped back
  ])('day %d of a 90-day certificate: %s', (day, due) => {
    expect(rotationDue(at(day), ninetyDays)).toBe(due);
  });
});

describe('planCertificates', () => {
  const sans = ['svc', 'svc.ns.svc'];
  const ca: CertFacts = { notBefore: at(-10), notAfter: at(5 * 365 - 10), sans: [] };
  const serving: CertFacts = { notBefore: at(-10), notAfter: at(80), sans };
  it.each([
    ['nothing yet', {}, 'renew-all'],
    ['a CA with less than a third of its life left', { ca: { ...ca, notBefore: at(-1500), notAfter: at(300) }, serving }, 'renew-all'],
    ['no serving certificate', { ca }, 'renew-serving'],
    ['a serving certificate of another CA', { ca, serving, servingSignedByCa: false }, 'renew-serving'],
    ['a serving certificate near its end', { ca, serving: { ...serving, notBefore: at(-71), notAfter: at(19) } }, 'renew-serving'],
    ['a serving certificate that lacks a name', { ca, serving: { ...serving, sans: ['svc'] } }, 'renew-serving'],
    ['good certificates', { ca, serving }, 'keep'],
  ])('%s: %s', (_what, current, action) => {
    expect(planCertificates(NOW, { servingSignedByCa: true, ...current }, sans).action).toBe(action);
  });
});

describe('createCa and createServing', () => {
  let ca: Awaited<ReturnType<typeof createCa>>;
  let serving: Awaited<ReturnType<typeof createServing>>;
  const sans = [...serviceSans('kubevmm-webhook', 'kubevmm'), '127.0.0.1'];

  beforeAll(async () => {
    ca = await createCa(new Date());
    serving = await createServing(ca, sans, new Date());
  });

  it('makes an ECDSA P-256 CA valid for five years', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(createPrivateKey(ca.keyPem).asymmetricKeyType).toBe('ec');
    const years = (Date.parse(cert.validTo) - Date.now()) / (365 * DAY);
    expect(years).toBeGreaterThan(4.9);
    expect(years).toBeLessThan(5.1);
  });

  it('issues a 90-day serving certificate for every name, signed by the CA', async () => {
    const cert = new X509Certificate(serving.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.checkHost('kubevmm-webhook.kubevmm.svc')).toBe('kubevmm-webhook.kubevmm.svc');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('other.kubevmm.svc')).toBeUndefined();
    expect((await certFacts(serving.certPem)).sans).toEqual(sans);
    expect(Math.round(((await certFacts(serving.certPem)).notAfter.getTime() - Date.now()) / DAY)).toBe(90);
    expect(await signedBy(serving.certPem, ca.certPem)).toBe(true);
    expect(await signedBy(serving.certPem, (await createCa(new Date())).certPem)).toBe(false);
  });

  it('never outlives its CA', async () => {
    const shortCa = await createCa(new Date(Date.now() - (5 * 365 - 30) * DAY));
    const cert = await createServing(shortCa, ['svc'], new Date());
    expect((await certFacts(cert.certPem)).notAfter.getTime()).toBe((await certFacts(shortCa.certPem)).notAfter.getTime());
  });

  it('serves TLS that a client trusting only the CA accepts for the Service name and for 127.0.0.1', async () => {
    const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (s) => s.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const hello = (servername?: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, servername }, () => socket.once('data', (d) => resolve(d.toString())));
        socket.once('error', reject);
      });
    try {
      await expect(hello('kubevmm-webhook.kubevmm.svc')).resolves.toBe('ok');
      await expect(hello()).resolves.toBe('ok');
      await expect(hello('elsewhere.example')).rejects.toThrow(/altnames/);
    } finally {
      server.close();
    }
  });

  it('splits a bundle into its certificates', async () => {
    expect(pemBlocks(`${ca.certPem}\n${serving.certPem}`)).toHaveLength(2);
    await expect(certFacts('garbage')).rejects.toThrow(/no PEM certificate/);
  });
});
