import type { IncomingMessage, ServerResponse } from 'node:http';
import { FakeHttpApi } from '../test/fakes/http-api.js';
import { ClusterClient, KubeCallError, podFacts, SUBRESOURCE_SERVER_API_CALLS, vmFacts } from './kube.js';

type Json = Record<string, any>;

/** Answers the four calls the server makes, and records them. */
class Api extends FakeHttpApi {
  requests: { method: string; path: string; body?: Json }[] = [];
  objects = new Map<string, Json>();
  hang = false;

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const path = req.url ?? '';
    this.requests.push({ method: req.method ?? '', path, ...(text ? { body: JSON.parse(text) as Json } : {}) });
    if (this.hang) return;
    const reply = (code: number, body: unknown): void => void res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST' && path === '/apis/authorization.k8s.io/v1/subjectaccessreviews') return reply(201, { ...JSON.parse(text), status: { allowed: false, reason: 'nope' } });
    const object = this.objects.get(path);
    if (object) return reply(200, object);
    reply(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` });
  }
}

let api: Api;
let client: ClusterClient;

beforeAll(async () => {
  api = new Api();
  await api.listen();
  client = new ClusterClient(api.kubeConfig(), 300);
});
afterAll(() => api.close());

describe('ClusterClient', () => {
  it('makes exactly the calls the server is granted', async () => {
    api.objects.set('/apis/kubevmm.io/v1alpha1/namespaces/ns/virtualmachines/web', { metadata: { name: 'web', uid: 'u-1' }, spec: { devices: { graphics: 'none' } } });
    api.objects.set('/api/v1/namespaces/ns/pods/web-launcher', { metadata: { name: 'web-launcher', ownerReferences: [{ uid: 'u-0', controller: false }, { uid: 'u-1', controller: true }] }, status: { podIP: '10.1.2.3', phase: 'Running' } });
    api.objects.set('/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication', { metadata: { name: 'extension-apiserver-authentication' }, data: { 'requestheader-allowed-names': '[]' } });
    const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'alice', groups: [], resourceAttributes: { verb: 'get' } } };
    await expect(client.review(review)).resolves.toMatchObject({ status: { allowed: false, reason: 'nope' } });
    await expect(client.virtualMachine('ns', 'web')).resolves.toEqual({ uid: 'u-1', graphics: 'none' });
    await expect(client.launcherPod('ns', 'web')).resolves.toEqual({ controllerUid: 'u-1', podIP: '10.1.2.3', phase: 'Running' });
    await expect(client.authenticationData()).resolves.toEqual({ 'requestheader-allowed-names': '[]' });
    api.objects.set('/apis/kubevmm.io/v1alpha1/namespaces/ns/virtualmachineimages/img', { metadata: { name: 'img', uid: 'u-2' }, spec: { source: { upload: {} } }, status: { phase: 'Importing', importerPod: 'img-importer' } });
    await expect(client.virtualMachineImage('ns', 'img')).resolves.toEqual({ uid: 'u-2', source: 'upload', phase: 'Importing', importerPod: 'img-importer' });
    await expect(client.pod('ns', 'web-launcher')).resolves.toEqual({ controllerUid: 'u-1', podIP: '10.1.2.3', phase: 'Running' });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /apis/authorization.k8s.io/v1/subjectaccessreviews',
      'GET /apis/kubevmm.io/v1alpha1/namespaces/ns/virtualmachines/web',
      'GET /api/v1/namespaces/ns/pods/web-launcher',
      'GET /api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication',
      'GET /apis/kubevmm.io/v1alpha1/namespaces/ns/virtualmachineimages/img',
      'GET /api/v1/namespaces/ns/pods/web-launcher',
    ]);
    expect(api.requests[0]!.body).toMatchObject({ spec: { user: 'alice' } });
    expect(SUBRESOURCE_SERVER_API_CALLS.map((c) => `${c.verb} ${c.resource}`)).toEqual(['create subjectaccessreviews', 'get virtualmachines', 'get virtualmachineimages', 'get pods', 'get configmaps']);
  });

  it('reads a missing VM or pod as none, and names the call that failed otherwise', async () => {
    await expect(client.virtualMachine('ns', 'gone')).resolves.toBeUndefined();
    await expect(client.launcherPod('ns', 'gone')).resolves.toBeUndefined();
    api.objects.delete('/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication');
    const err = await client.authenticationData().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeCallError);
    expect(err).toMatchObject({ code: 404, message: 'get configmaps kube-system/extension-apiserver-authentication: 404 /api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication not found' });
  });

  it('gives up on an API server that does not answer', async () => {
    api.hang = true;
    await expect(client.virtualMachine('ns', 'web')).rejects.toMatchObject({ code: undefined, message: expect.stringMatching(/^get virtualmachines ns\/web: /) });
    api.hang = false;
  });
});

describe('facts', () => {
  it('takes the controller owner, the IP and the phase of a pod', () => {
    expect(podFacts({ metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'a' }] } })).toEqual({});
  });

  it('refuses a VM object without a UID', () => {
    expect(() => vmFacts({ metadata: {} })).toThrow(KubeCallError);
    expect(vmFacts({ metadata: { uid: 'u' } })).toEqual({ uid: 'u' });
  });
});
