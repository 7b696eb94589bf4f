import { Command } from 'commander';
import { X509Certificate } from 'node:crypto';
import { FakeCertificateApi } from '../test/fakes/certificate-api.js';
import { UI_SERVING_CA, checkUiCredentials, uiSettings, withUiOptions } from './ui-credentials.js';

describe('the operator’s web console certificate', () => {
  const parseFlags = (env: Record<string, string>) => {
    const saved = process.env;
    process.env = { ...saved, ...env };
    try {
      return withUiOptions(new Command()).exitOverride().parse([], { from: 'user' }).opts();
    } finally {
      process.env = saved;
    }
  };

  it('reads its Service, Secret and extra names, or nothing when neither is set', () => {
    expect(uiSettings(parseFlags({}))).toBeUndefined();
    expect(uiSettings(parseFlags({ KUBEVMM_UI_SERVICE: 'kv-ui', KUBEVMM_UI_SERVING_SECRET: 'kv-ui-serving', KUBEVMM_UI_DNS_NAMES: 'console.example.com, localhost' }))).toEqual({ service: 'kv-ui', servingSecret: 'kv-ui-serving', dnsNames: ['console.example.com', 'localhost'] });
    expect(() => uiSettings(parseFlags({ KUBEVMM_UI_SERVICE: 'kv-ui' }))).toThrow(/--ui-serving-secret must be set too/);
    expect(() => uiSettings(parseFlags({ KUBEVMM_UI_SERVICE: 'Bad_Name', KUBEVMM_UI_SERVING_SECRET: 's' }))).toThrow(/--ui-service: "Bad_Name" is not a Kubernetes object name/);
  });

  it('writes a serving certificate naming the Service and the extra names, from a CA of its own, and keeps it on the next check', async () => {
    const kube = new FakeCertificateApi();
    const lines: string[] = [];
    const log = { info: (_f: object, m: string) => lines.push(m), warn: (_f: object, m: string) => lines.push(`warn: ${m}`) };
    const opts = { settings: { service: 'kv-ui', servingSecret: 'kv-ui-serving', dnsNames: ['localhost'] }, api: kube, namespace: 'kubevmm-system', log };
    await checkUiCredentials(opts);
    const cert = new X509Certificate(kube.text('kubevmm-system', 'kv-ui-serving', 'tls.crt'));
    expect(cert.subjectAltName).toContain('DNS:kv-ui.kubevmm-system.svc');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(new X509Certificate(kube.text('kubevmm-system', 'kv-ui-serving', 'ca.crt')).subject).toContain(UI_SERVING_CA);
    await checkUiCredentials(opts);
    expect(lines).toEqual(['web console serving certificate written']);
  });
});
