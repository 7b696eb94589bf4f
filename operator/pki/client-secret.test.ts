import { planClientCertificate, type StoredClientCert } from './client-secret.js';

const DAY = 24 * 3600_000;
const NOW = new Date('2026-06-01T00:00:00Z');
const at = (days: number) => new Date(NOW.getTime() + days * DAY);
const CA = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';
const want = { commonName: 'kubevmm-subresources', caPem: CA };

describe('planClientCertificate', () => {
  const good: StoredClientCert = { cert: { notBefore: at(-5), notAfter: at(25), sans: [], commonName: 'kubevmm-subresources' }, keyMatches: true, signedByCa: true, caPem: CA };
  it.each<[string, Partial<StoredClientCert>, string]>([
    ['nothing stored yet', { cert: undefined }, 'no client certificate yet'],
    ['a key that is not the certificate’s', { keyMatches: false }, 'tls.key is missing or not the key of tls.crt'],
    ['a certificate for another client', { cert: { ...good.cert!, commonName: 'kubevmm-operator' } }, 'the certificate is for "kubevmm-operator", not "kubevmm-subresources"'],
    ['a certificate of a replaced launcher CA', { signedByCa: false }, 'the certificate is not signed by the launcher CA (was the CA replaced?)'],
    ['a ca.crt that is not the launcher CA', { caPem: 'other' }, 'ca.crt is not the launcher CA'],
    ['less than a third of 30 days left', { cert: { ...good.cert!, notBefore: at(-21), notAfter: at(9) } }, 'the certificate expires at 2026-06-10T00:00:00.000Z'],
    ['a certificate not valid yet (the clock went back)', { cert: { ...good.cert!, notBefore: at(1), notAfter: at(31) } }, 'the certificate expires at 2026-07-02T00:00:00.000Z'],
  ])('issues a new one for %s', (_what, change, reason) => {
    expect(planClientCertificate(NOW, { ...good, ...change }, want)).toEqual({ action: 'issue', reason });
  });

  it('keeps a good certificate with more than a third of its life left, whatever the PEM’s trailing space', () => {
    expect(planClientCertificate(NOW, good, want)).toEqual({ action: 'keep' });
    expect(planClientCertificate(NOW, { ...good, caPem: CA.trim() }, want)).toEqual({ action: 'keep' });
    expect(planClientCertificate(at(14.9), good, want)).toEqual({ action: 'keep' });
    expect(planClientCertificate(at(15.1), good, want).action).toBe('issue');
  });
});
