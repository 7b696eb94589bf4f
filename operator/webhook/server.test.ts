import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { AdmissionCaches } from './admit.js';
import { readCertDir, watchCertDir } from './cert-dir.js';
import { createCa, createServing, type PemPair } from '../pki/certs.js';
import { webhookSettings } from './options.js';
import { BODY_LIMIT_BYTES, startWebhookServer, type WebhookServer } from './server.js';
import { reviewOutcome, type ReviewOutcome } from './start.js';

const caches: AdmissionCaches = { vms: { list: () => [] }, classes: { list: () => [] }, synced: () => true };
let ca: PemPair;
let first: PemPair;
let server: WebhookServer;
/** Each answered review as the metrics see it: path and outcome. */
const reviews: string[] = [];
/** The SubjectAccessReviews the server asked for; alice may read claims anywhere, nobody else may. */
const asked: { spec: { user: string } }[] = [];
const accessReview = async (body: Record<string, unknown>) => {
  asked.push(body as { spec: { user: string } });
  return { status: { allowed: (body as { spec: { user: string } }).spec.user === 'alice' } };
};

beforeAll(async () => {
  ca = await createCa(new Date());
  first = await createServing(ca, ['127.0.0.1'], new Date());
  server = await startWebhookServer({ port: 0, host: '127.0.0.1', certificate: first, caches, review: accessReview, onReview: (r, path) => reviews.push(`${path} ${reviewOutcome(r)}`) });
});
afterAll(() => server.close());

function call(opts: { path?: string; method?: string; type?: string; body?: string | Buffer; length?: number }): Promise<{ code: number; text: string }> {
  const body = opts.body ?? '';
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, path: opts.path ?? '/validate/virtualmachines', method: opts.method ?? 'POST', ca: ca.certPem, headers: { 'content-type': opts.type ?? 'application/json', 'content-length': opts.length ?? Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, text }));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/** The serving certificate a new TLS connection is offered. */
function servedCertificate(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: server.port, ca: ca.certPem }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.once('error', reject);
  });
}

const review = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'u-1', kind: { group: 'kubevmm.io', version: 'v1alpha1', kind: 'VirtualMachine' }, operation: 'CREATE', namespace: 'a', object: { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'x', namespace: 'a' }, spec: { memory: { guest: '1Gi' } } } },
});

describe('the webhook server', () => {
  it('answers an AdmissionReview over HTTPS on both paths', async () => {
    reviews.length = 0;
    const vm = await call({ body: review });
    expect(reviews).toEqual(['/validate/virtualmachines allowed']);
    expect(vm.code).toBe(200);
    expect(JSON.parse(vm.text)).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u-1', allowed: true } });
    expect((await call({ path: '/validate/virtualmachineclasses', body: review })).code).toBe(200);
  });

  it('answers an image copying a claim of another namespace after asking the API server about its user', async () => {
    const imageReview = (user: string) =>
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: `img-${user}`,
          kind: { group: 'kubevmm.io', version: 'v1alpha1', kind: 'VirtualMachineImage' },
          operation: 'CREATE',
          namespace: 'a',
          userInfo: { username: user, groups: ['system:authenticated'] },
          object: { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', metadata: { name: 'img', namespace: 'a' }, spec: { source: { pvc: { name: 'golden', namespace: 'b' } } } },
        },
      });
    reviews.length = 0;
    asked.length = 0;
    const allowed = JSON.parse((await call({ path: '/validate/virtualmachineimages', body: imageReview('alice') })).text) as { response: { allowed: boolean } };
    const denied = JSON.parse((await call({ path: '/validate/virtualmachineimages', body: imageReview('bob') })).text) as { response: { allowed: boolean; status: { message: string } } };
    expect([allowed.response.allowed, denied.response.allowed]).toEqual([true, false]);
    expect(denied.response.status.message).toMatch(/spec\.source\.pvc\.namespace: user "bob" may not get persistentvolumeclaims in namespace "b" \(claim "golden"\)/);
    expect(asked.map((a) => a.spec.user)).toEqual(['alice', 'bob']);
    expect(reviews).toEqual(['/validate/virtualmachineimages allowed', '/validate/virtualmachineimages denied']);
  });

  it.each([
    ['an unknown path', { path: '/mutate' }, 404, /serves \/validate\/virtualmachines, \/validate\/virtualmachineclasses, \/validate\/virtualmachineimages/],
    ['a GET', { method: 'GET' }, 405, /only POST/],
    ['a body that is not JSON by its type', { type: 'text/plain', body: review }, 415, /application\/json/],
    // Refused on its Content-Length, before any of it is read (the client never gets to send it).
    ['a body over the limit', { body: '{', length: BODY_LIMIT_BYTES + 1 }, 413, /larger than/],
  ])('refuses %s with %d', async (_what, opts, code, text) => {
    const res = await call(opts);
    expect(res.code).toBe(code);
    expect(res.text).toMatch(text);
  });

  it('denies a body that is not JSON with a review saying so, counted as an error', async () => {
    reviews.length = 0;
    const res = await call({ body: '{"apiVersion":' });
    expect(reviews).toEqual(['/validate/virtualmachines error']);
    expect(res.code).toBe(400);
    expect(JSON.parse(res.text).response).toMatchObject({ uid: '', allowed: false, status: { code: 400, message: expect.stringMatching(/^the body is not JSON/) } });
  });

  it('serves a new certificate to new connections after setCertificate', async () => {
    const before = await servedCertificate();
    expect(before).toBe(new X509Certificate(first.certPem).fingerprint256);
    const next = await createServing(ca, ['127.0.0.1'], new Date());
    server.setCertificate(next);
    expect(await servedCertificate()).toBe(new X509Certificate(next.certPem).fingerprint256);
    expect((await call({ body: review })).code).toBe(200);
  });
});

describe('reviewOutcome', () => {
  it.each([
    [{ allowed: true }, 'allowed'],
    [{ allowed: false, status: { code: 422 } }, 'denied'],
    [{ allowed: false, status: { code: 400 } }, 'error'],
    [{ allowed: false, status: { code: 500 } }, 'error'],
  ] as const)('%j is %s', (response, outcome) => {
    expect(reviewOutcome({ response })).toBe(outcome as ReviewOutcome);
  });
});

describe('certificates from a directory', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-webhook-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** Writes the pair the way the kubelet updates a Secret volume: a new directory, then a symlink swap. */
  async function publish(pair: PemPair, version: number): Promise<void> {
    const data = join(dir, `..${version}`);
    await rm(data, { recursive: true, force: true });
    await mkdir(data);
    await writeFile(join(data, 'tls.crt'), pair.certPem);
    await writeFile(join(data, 'tls.key'), pair.keyPem);
    await symlink(`..${version}`, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    for (const f of ['tls.crt', 'tls.key']) await symlink(join('..data', f), join(dir, f)).catch(() => undefined);
  }

  it('explains a missing file and a key that does not match', async () => {
    await expect(readCertDir(dir)).rejects.toThrow(/tls.crt does not exist; mount a kubernetes.io\/tls Secret/);
    await writeFile(join(dir, 'tls.crt'), first.certPem);
    await writeFile(join(dir, 'tls.key'), ca.keyPem);
    await expect(readCertDir(dir)).rejects.toThrow(/tls.key is not the key of tls.crt/);
  });

  it('reports a new pair after the kubelet-style symlink swap, and keeps the old one through a broken write', async () => {
    await publish(first, 1);
    const current = await readCertDir(dir);
    const changes: PemPair[] = [];
    const errors: unknown[] = [];
    const stop = watchCertDir({ dir, current, onChange: (p) => changes.push(p), onError: (e) => errors.push(e), pollMs: 100 });
    try {
      const next = await createServing(ca, ['127.0.0.1'], new Date());
      await publish(next, 2);
      const deadline = Date.now() + 10_000;
      while (changes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(changes.map((c) => c.certPem)).toEqual([next.certPem]);
      await publish({ certPem: next.certPem, keyPem: ca.keyPem }, 3);
      while (errors.length === 0 && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 50));
      expect(String(errors[0])).toMatch(/not the key/);
      expect(changes).toHaveLength(1);
    } finally {
      stop();
    }
  });
});

describe('webhookSettings', () => {
  it('reads the flags with their defaults', () => {
    expect(webhookSettings({ webhookExtraSans: '127.0.0.1, localhost,' })).toEqual({
      port: 9443,
      certDir: undefined,
      secret: 'kubevmm-webhook-tls',
      service: 'kubevmm-webhook',
      configuration: 'kubevmm',
      extraSans: ['127.0.0.1', 'localhost'],
    });
    expect(webhookSettings({ webhookPort: '0', webhookCertDir: '/certs' })).toMatchObject({ port: 0, certDir: '/certs' });
  });

  it.each([
    [{ webhookPort: '70000' }, /--webhook-port: "70000" must be a port number 1-65535, or 0 for no webhook/],
    [{ webhookSecret: 'Bad_Name' }, /--webhook-secret: "Bad_Name" is not a Kubernetes object name/],
  ])('refuses %j', (opts, message) => {
    expect(() => webhookSettings(opts)).toThrow(message);
  });
});
