import { X509Certificate } from 'node:crypto';
import { frontProxyPki, type FrontProxyPki } from '../../harness/pki.js';
import { authenticateRequest, requestHeaderConfig, RequestHeaderConfigError, type DistinctHeaders, type RequestHeaderConfig } from './request-header.js';

let pki: FrontProxyPki;
let config: RequestHeaderConfig;

/** The ConfigMap's data as kube-apiserver writes it. */
function configMapData(caPem: string, allowedNames = ['front-proxy-client']): Record<string, string> {
  return {
    'requestheader-client-ca-file': caPem,
    'requestheader-allowed-names': JSON.stringify(allowedNames),
    'requestheader-username-headers': '["X-Remote-User"]',
    'requestheader-uid-headers': '["X-Remote-Uid"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
  };
}

const der = (pem: string): Buffer => new X509Certificate(pem).raw;

const aliceHeaders: DistinctHeaders = {
  'x-remote-user': ['alice'],
  'x-remote-uid': ['u-1'],
  'x-remote-group': ['team-a', 'system:authenticated'],
  'x-remote-extra-scopes': ['view', 'console'],
  'x-remote-extra-acme.com%2fproject': ['p1'],
  'user-agent': ['kubectl'],
};

beforeAll(async () => {
  pki = await frontProxyPki();
  config = requestHeaderConfig(configMapData(pki.caPem));
});

describe('authenticateRequest', () => {
  it('believes the headers when the API server\'s front-proxy certificate comes with them', () => {
    expect(authenticateRequest({ peerCertificate: der(pki.client.certPem), headers: aliceHeaders, now: new Date() }, config)).toEqual({
      ok: true,
      identity: { user: 'alice', uid: 'u-1', groups: ['team-a', 'system:authenticated'], extra: { scopes: ['view', 'console'], 'acme.com/project': ['p1'] } },
    });
  });

  it('refuses forged identity headers without a certificate, whatever they say', () => {
    const result = authenticateRequest({ peerCertificate: undefined, headers: { 'x-remote-user': ['system:admin'], 'x-remote-group': ['system:masters'] }, now: new Date() }, config);
    expect(result).toMatchObject({ ok: false, refusal: { reason: 'FrontProxyCertificateRequired' } });
  });

  it.each([
    ['signed by another CA', 'foreign', /not signed by the requestheader CA/],
    ['for serving, not for clients', 'serving', /not for client authentication/],
    ['expired', 'expired', /is expired/],
    ['of a name the API server does not proxy with', 'otherName', /common name "someone-else" is not one of requestheader-allowed-names \(front-proxy-client\)/],
  ] as const)('refuses a certificate %s', (_what, which, message) => {
    const result = authenticateRequest({ peerCertificate: der(pki[which].certPem), headers: aliceHeaders, now: new Date() }, config);
    expect(result).toEqual({ ok: false, refusal: { reason: 'FrontProxyCertificateRejected', message: expect.stringMatching(message) } });
  });

  it('takes any certificate of the CA when the cluster lists no allowed names, as Kubernetes does', () => {
    const open = requestHeaderConfig(configMapData(pki.caPem, []));
    expect(authenticateRequest({ peerCertificate: der(pki.otherName.certPem), headers: aliceHeaders, now: new Date() }, open)).toMatchObject({ ok: true });
    expect(authenticateRequest({ peerCertificate: der(pki.foreign.certPem), headers: aliceHeaders, now: new Date() }, open)).toMatchObject({ ok: false });
  });

  it('refuses a good certificate that names no user, and garbage for a certificate', () => {
    expect(authenticateRequest({ peerCertificate: der(pki.client.certPem), headers: { 'x-remote-user': [''], 'x-remote-group': ['g'] }, now: new Date() }, config)).toMatchObject({ ok: false, refusal: { reason: 'NoUser' } });
    expect(authenticateRequest({ peerCertificate: Buffer.from('not a certificate'), headers: aliceHeaders, now: new Date() }, config)).toMatchObject({ ok: false, refusal: { reason: 'FrontProxyCertificateRejected' } });
  });

  it('reads only the headers the API server names: another spelling of the user header is ignored', () => {
    const result = authenticateRequest({ peerCertificate: der(pki.client.certPem), headers: { 'x-remote-username': ['mallory'], 'x-remote-user': ['alice'] }, now: new Date() }, config);
    expect(result).toEqual({ ok: true, identity: { user: 'alice', groups: [], extra: {} } });
  });
});

describe('requestHeaderConfig', () => {
  it('names the API server flag when the cluster has no front proxy configured', () => {
    expect(() => requestHeaderConfig({})).toThrow(RequestHeaderConfigError);
    expect(() => requestHeaderConfig({})).toThrow(/--requestheader-client-ca-file/);
    expect(() => requestHeaderConfig({ ...configMapData(pki.caPem), 'requestheader-username-headers': '[]' })).toThrow(/--requestheader-username-headers/);
  });

  it('names the key that is not a JSON list of strings', () => {
    expect(() => requestHeaderConfig({ ...configMapData(pki.caPem), 'requestheader-allowed-names': 'front-proxy-client' })).toThrow(/^requestheader-allowed-names in kube-system\/extension-apiserver-authentication is not JSON/);
    expect(() => requestHeaderConfig({ ...configMapData(pki.caPem), 'requestheader-group-headers': '[1]' })).toThrow(/requestheader-group-headers .* not a list of strings/);
  });
});
