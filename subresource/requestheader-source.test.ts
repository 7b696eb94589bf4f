import { X509Certificate } from 'node:crypto';
import { frontProxyPki, type FrontProxyPki } from '../harness/pki.js';
import { FakeSubresourceCluster, requestHeaderData } from '../test/fakes/subresource-cluster.js';
import { RequestHeaderSource } from './requestheader-source.js';

let pki: FrontProxyPki;
let other: FrontProxyPki;
beforeAll(async () => {
  [pki, other] = await Promise.all([frontProxyPki(), frontProxyPki()]);
});

function recorder() {
  const lines: string[] = [];
  const at = (level: string) => (fields: object, message: string) => lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('RequestHeaderSource', () => {
  it('is not ready, and believes nobody, until the ConfigMap was read', async () => {
    const cluster = new FakeSubresourceCluster();
    cluster.failures.configMap = new Error('get configmaps kube-system/extension-apiserver-authentication: 403 forbidden');
    const { log, lines } = recorder();
    const source = new RequestHeaderSource({ read: () => cluster.authenticationData(), log });
    await source.refresh();
    expect(source.current()).toBeUndefined();
    expect(source.notReady()).toBe('the ConfigMap kube-system/extension-apiserver-authentication cannot be read');
    expect(source.notReadyDetail()).toMatch(/cannot be read: .*403 forbidden/);
    expect(lines[0]).toMatch(/403 forbidden/);
    expect(lines[0]).toMatch(/^warn requestheader settings not read/);
    delete cluster.failures.configMap;
    cluster.configMapData = requestHeaderData(pki.caPem);
    await source.refresh();
    expect(source.notReady()).toBeUndefined();
    expect(source.current()?.clientCas[0]?.fingerprint256).toBe(new X509Certificate(pki.caPem).fingerprint256);
    expect(lines.at(-1)).toMatch(/^info requestheader settings loaded/);
  });

  it('follows a changed CA, and keeps the settings in force when the ConfigMap breaks or cannot be read', async () => {
    const cluster = new FakeSubresourceCluster();
    cluster.configMapData = requestHeaderData(pki.caPem);
    const { log, lines } = recorder();
    const source = new RequestHeaderSource({ read: () => cluster.authenticationData(), log, intervalMs: 20 });
    await source.start();
    const first = source.current();
    cluster.configMapData = requestHeaderData(other.caPem);
    await waitFor(() => source.current() !== first);
    expect(source.current()?.clientCas[0]?.fingerprint256).toBe(new X509Certificate(other.caPem).fingerprint256);
    expect(lines.some((l) => l.startsWith('info requestheader settings changed'))).toBe(true);
    const second = source.current();
    cluster.configMapData = { ...requestHeaderData(pki.caPem), 'requestheader-client-ca-file': '' };
    await waitFor(() => lines.some((l) => l.startsWith('error requestheader settings unusable')));
    cluster.failures.configMap = new Error('connection refused');
    await waitFor(() => lines.some((l) => l.startsWith('warn requestheader settings not read')));
    expect(source.current()).toBe(second);
    source.stop();
  });
});

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
