// virtualmachineimages/upload through the whole server in one process: the front proxy check,
// the SubjectAccessReview and the image's facts from a fake API server, and the relay to a
// stand-in importer (mutual TLS with the image's certificate) on this host. test/subresource/
// runs the same through the real API server's aggregator.
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { Readable } from 'node:stream';
import { imageUploadPath, kubeStatus } from '../api/contract/subresource.js';
import { startImporterUpload, type ImporterUpload } from '../harness/importer-upload.js';
import { frontProxyPki, serverTls, testAuthority, testClient, testServing, type FrontProxyPki } from '../harness/pki.js';
import { httpsSend } from '../harness/subresource-client.js';
import { FakeSubresourceCluster, requestHeaderData } from '../test/fakes/subresource-cluster.js';
import { requestHeaderConfig } from './auth/request-header.js';
import { LauncherDialer } from './launcher-dial.js';
import { silentLog } from './log.js';
import { startSubresourceServer, type SubresourceServer } from './server.js';
import { StreamAcceptor } from './stream.js';
import { StreamLimits } from './stream-limits.js';
import { ImporterRelay } from './upload-relay.js';

const IMAGE = { name: 'debian-12', namespace: 'team-a', uid: '7d6c5b4a-3f2e-4d1c-8b9a-aabbccddeeff' };
const PATH = imageUploadPath({ namespace: IMAGE.namespace, name: IMAGE.name });

let pki: FrontProxyPki;
let serving: { caPem: string; certPem: string; keyPem: string };
let importer: ImporterUpload;
let cluster: FakeSubresourceCluster;
let server: SubresourceServer;

beforeAll(async () => {
  pki = await frontProxyPki();
  serving = await testServing(['localhost', '127.0.0.1']);
  const authority = await testAuthority();
  const client = await testClient(authority, 'kubevmm-subresources');
  importer = await startImporterUpload({ tls: await serverTls(authority, IMAGE), host: '127.0.0.1', port: 0 });
  cluster = new FakeSubresourceCluster();
  cluster.configMapData = requestHeaderData(pki.caPem);
  const config = requestHeaderConfig(requestHeaderData(pki.caPem));
  server = await startSubresourceServer({
    port: 0,
    host: '127.0.0.1',
    tls: { cert: serving.certPem, key: serving.keyPem },
    deps: {
      requestHeader: () => config,
      cluster,
      launcher: new LauncherDialer({ tls: () => client }),
      importer: new ImporterRelay({ tls: () => client, port: importer.port }),
      acceptor: new StreamAcceptor(),
      limits: new StreamLimits(),
      log: silentLog,
      notReady: () => [],
    },
  });
});

afterAll(async () => {
  await server.close();
  await importer.close();
});

beforeEach(() => {
  cluster.calls = [];
  cluster.grants = new Set(['alice get upload team-a/debian-12', 'alice update upload team-a/debian-12', 'viewer get upload team-a/debian-12']);
  cluster.images.set('team-a/debian-12', { uid: IMAGE.uid, source: 'upload', phase: 'Pending', importerPod: 'debian-12-importer' });
  cluster.pods.set('team-a/debian-12-importer', { controllerUid: IMAGE.uid, podIP: '127.0.0.1', phase: 'Running' });
});

const as = (user: string) => ({ ca: serving.caPem, cert: pki.client.certPem, key: pki.client.keyPem, headers: { 'X-Remote-User': user, 'X-Remote-Group': 'system:authenticated' } });
const head = (user = 'alice', path = PATH) => httpsSend(`${server.url}${path}`, as(user), { method: 'HEAD' });
const put = (body: Buffer, headers: Record<string, string>, user = 'alice') => httpsSend(`${server.url}${PATH}`, as(user), { method: 'PUT', body, headers });
const status = (body: string) => kubeStatus.parse(JSON.parse(body));

describe('virtualmachineimages/upload', () => {
  it('relays HEAD and PUTs to the importer; a file sent as several PUTs arrives whole, in order', async () => {
    const file = randomBytes(3 * 1024 * 1024 + 17);
    expect((await head()).headers['upload-offset']).toBe('0');
    const parts = [file.subarray(0, 1024 * 1024), file.subarray(1024 * 1024, 2 * 1024 * 1024), file.subarray(2 * 1024 * 1024)];
    let offset = 0;
    for (const [i, part] of parts.entries()) {
      const answer = await put(part, { 'upload-offset': String(offset), ...(i === 0 ? { 'upload-length': String(file.length) } : {}) });
      expect(answer.status).toBe(204);
      offset += part.length;
      expect(answer.headers['upload-offset']).toBe(String(offset));
    }
    expect(importer.digest()).toBe(createHash('sha256').update(file).digest('hex'));
    const after = await head();
    expect([after.headers['upload-offset'], after.headers['upload-length']]).toEqual([String(file.length), String(file.length)]);
    // The importer saw only the server's client certificate, never the user's identity.
    expect(new Set(importer.calls.map((c) => c.split(' ')[1]))).toEqual(new Set(['kubevmm-subresources']));
  });

  it('asks the API server as the user, with get for HEAD and update for PUT, before reading the image', async () => {
    const viewerPut = await put(Buffer.from('x'), { 'upload-offset': '0' }, 'viewer');
    expect(viewerPut.status).toBe(403);
    expect(status(viewerPut.body).message).toMatch(/^virtualmachineimages\.subresources\.kubevmm\.io "debian-12" is forbidden: user "viewer" cannot update resource "virtualmachineimages\/upload" in API group "subresources\.kubevmm\.io" in the namespace "team-a"/);
    expect(cluster.calls).toEqual(['review viewer']);
    cluster.calls = [];
    expect((await head('viewer')).status).toBe(200);
    expect(cluster.calls).toEqual(['review viewer', 'image team-a/debian-12', 'pod team-a/debian-12-importer']);
    expect(cluster.reviews.at(-1)?.spec.resourceAttributes).toEqual({ group: 'subresources.kubevmm.io', version: 'v1alpha1', resource: 'virtualmachineimages', subresource: 'upload', namespace: 'team-a', name: 'debian-12', verb: 'get' });
  });

  it('passes the importer’s refusal on as a Status with its reason and the offset to resume from', async () => {
    const at = importer.offset;
    const wrong = await put(Buffer.from('abc'), { 'upload-offset': '1' });
    expect(wrong.status).toBe(409);
    expect(wrong.headers['upload-offset']).toBe(String(at));
    expect(status(wrong.body)).toMatchObject({ reason: 'Conflict', message: `the importer of image team-a/debian-12: the upload is at byte ${at}, not 1 (OffsetMismatch)`, details: { name: 'debian-12', kind: 'virtualmachineimages' } });
  });

  it.each([
    ['an image of another source', { source: 'http' }, undefined, 409, /takes no upload: its source is http/],
    ['a Ready image', { phase: 'Ready' }, undefined, 409, /is Ready: its upload is complete/],
    ['an image without an importer pod yet', { importerPod: undefined }, undefined, 503, /has no importer pod yet \(phase Pending\); try again shortly/],
    ['a pod of that name another controller owns', {}, { controllerUid: 'someone-else', podIP: '127.0.0.1', phase: 'Running' }, 409, /is not this image's importer/],
    ['an importer pod not running yet', {}, { controllerUid: IMAGE.uid, phase: 'Pending' }, 503, /is Pending and has no IP yet/],
  ])('refuses %s without sending it anything', async (_what, image, pod, code, message) => {
    const calls = importer.calls.length;
    cluster.images.set('team-a/debian-12', { uid: IMAGE.uid, source: 'upload', phase: 'Pending', importerPod: 'debian-12-importer', ...image });
    if (pod) cluster.pods.set('team-a/debian-12-importer', pod);
    const answer = await head();
    expect(answer.status).toBe(code);
    expect(importer.calls.length).toBe(calls);
    // HEAD has no body: the same request as GET is refused the same way (405), PUT shows the message.
    const shown = await put(Buffer.from('x'), { 'upload-offset': '0' });
    expect(status(shown.body).message).toMatch(message);
  });

  it('refuses other methods, other subresources, and a missing image', async () => {
    const send = (method: string, path = PATH) => httpsSend(`${server.url}${path}`, as('alice'), { method });
    expect(status((await send('GET')).body)).toMatchObject({ code: 405, message: expect.stringMatching(/GET is not allowed on virtualmachineimages\/upload/) });
    expect(status((await send('HEAD'.replace('HEAD', 'GET'), PATH.replace('/upload', '/download'))).body)).toMatchObject({ code: 404, message: expect.stringMatching(/has no subresource "download"/) });
    cluster.images.clear();
    expect(status((await put(Buffer.from('x'), { 'upload-offset': '0' })).body)).toMatchObject({ code: 404, message: 'virtualmachineimages.kubevmm.io "debian-12" not found in namespace "team-a"' });
  });

  it('holds no more of a file than the importer takes: a stalled importer stalls the sender (backpressure, no buffering)', async () => {
    importer.reset();
    const from = 0;
    importer.holdAfter = 2 ** 20;
    const total = 256 * 2 ** 20;
    let pulled = 0;
    const chunk = Buffer.alloc(64 * 1024);
    const body = new Readable({
      read() {
        pulled += chunk.length;
        this.push(pulled <= total ? chunk : null);
      },
    });
    const req = request(`${server.url}${PATH}`, { ...as('alice'), method: 'PUT', headers: { ...as('alice').headers, 'upload-offset': String(from), 'upload-length': String(total), 'content-length': String(total) } });
    req.on('error', () => undefined);
    body.pipe(req);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const stalledAt = pulled;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    req.destroy();
    importer.holdAfter = undefined;
    // The importer took 1 MiB; socket buffers on three hops hold a few MiB more, never the 256 MiB.
    expect(importer.offset).toBe(from + 2 ** 20);
    expect(stalledAt).toBeLessThan(32 * 2 ** 20);
    expect(pulled - stalledAt).toBeLessThan(2 ** 20);
  });

  it('refuses an impostor at the importer pod’s address: a certificate for another UID', async () => {
    cluster.images.set('team-a/debian-12', { uid: '00000000-0000-4000-8000-000000000000', source: 'upload', phase: 'Pending', importerPod: 'debian-12-importer' });
    cluster.pods.set('team-a/debian-12-importer', { controllerUid: '00000000-0000-4000-8000-000000000000', podIP: '127.0.0.1', phase: 'Running' });
    const calls = importer.calls.length;
    const answer = await put(Buffer.from('secret disk'), { 'upload-offset': String(importer.offset) });
    expect(status(answer.body)).toMatchObject({ code: 500, message: expect.stringMatching(/did not present that image's importer certificate/) });
    expect(importer.calls.length).toBe(calls);
  });
});
