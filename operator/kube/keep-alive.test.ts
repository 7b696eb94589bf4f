import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createCa, createServing, type PemPair } from '../pki/certs.js';
import { identityOf, useKeepAlive } from './keep-alive.js';

/**
 * An HTTPS stand-in for the API server that counts TLS handshakes and answers any GET with a
 * Namespace, or 401 without the kubeconfig's bearer token (the wrapped method must still set it).
 */
async function countingServer(serving: PemPair): Promise<{ server: Server; url: string; handshakes: () => number }> {
  let handshakes = 0;
  const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const name = req.url?.split('/').pop() ?? '';
    if (req.headers.authorization !== 'Bearer secret-token') {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
  });
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, handshakes: () => handshakes };
}

function kubeConfig(url: string, caPem: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, caData: Buffer.from(caPem).toString('base64') }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('useKeepAlive', () => {
  let ca: PemPair;
  let fake: Awaited<ReturnType<typeof countingServer>>;

  beforeAll(async () => {
    ca = await createCa(new Date());
    fake = await countingServer(await createServing(ca, ['127.0.0.1'], new Date()));
  });
  afterAll(async () => {
    fake.server.closeAllConnections();
    await new Promise((resolve) => fake.server.close(resolve));
  });

  it('makes 20 sequential API calls over one TLS connection instead of 20', async () => {
    const plain = kubeConfig(fake.url, ca.certPem).makeApiClient(CoreV1Api);
    const before = fake.handshakes();
    for (let i = 0; i < 20; i++) await plain.readNamespace({ name: `n${i}` });
    expect(fake.handshakes() - before).toBe(20);

    const kc = kubeConfig(fake.url, ca.certPem);
    const close = useKeepAlive(kc);
    const kept = kc.makeApiClient(CoreV1Api);
    const start = fake.handshakes();
    for (let i = 0; i < 20; i++) expect((await kept.readNamespace({ name: `n${i}` })).metadata?.name).toBe(`n${i}`);
    expect(fake.handshakes() - start).toBe(1);
    close();
  });

  it('still verifies the server: a CA that did not sign it fails the call', async () => {
    const other = await createCa(new Date(), 'someone-else');
    const kc = kubeConfig(fake.url, other.certPem);
    const close = useKeepAlive(kc);
    await expect(kc.makeApiClient(CoreV1Api).readNamespace({ name: 'x' })).rejects.toThrow(/certificate/i);
    close();
  });

  it('is idempotent: wrapping twice keeps one pool', async () => {
    const kc = kubeConfig(fake.url, ca.certPem);
    const close = useKeepAlive(kc);
    useKeepAlive(kc);
    const api = kc.makeApiClient(CoreV1Api);
    const start = fake.handshakes();
    for (let i = 0; i < 5; i++) await api.readNamespace({ name: 'x' });
    expect(fake.handshakes() - start).toBe(1);
    close();
  });
});

describe('identityOf', () => {
  it('tells TLS identities apart by CA, client certificate and key, not by other options', () => {
    const base = { ca: 'CA', cert: 'CERT', key: 'KEY' };
    expect(identityOf(base, 'https')).toBe(identityOf({ ...base, timeout: 5 }, 'https'));
    expect(identityOf(base, 'https')).not.toBe(identityOf({ ...base, cert: 'ROTATED' }, 'https'));
    expect(identityOf(base, 'https')).not.toBe(identityOf({ ...base, ca: Buffer.from('CA2') }, 'https'));
    expect(identityOf(base, 'https')).not.toBe(identityOf(base, 'http'));
  });
});
