import { X509Certificate } from 'node:crypto';
import { kubeStatus } from '../api/contract/subresource.js';
import { frontProxyPki, type FrontProxyPki } from '../harness/pki.js';
import { apiError, FakeSubresourceCluster, requestHeaderData } from '../test/fakes/subresource-cluster.js';
import { admitSubresource, authenticate, launcherTarget, type AdmitDeps, type IncomingFacts } from './admit.js';
import { requestHeaderConfig, type RequestHeaderConfig, type UserIdentity } from './auth/request-header.js';

const BASE = '/apis/subresources.kubevmm.io/v1alpha1/namespaces/team-a/virtualmachines';
const UID = '5b7f0c1e-2d3a-4e5f-8a9b-0c1d2e3f4a5b';
const alice: UserIdentity = { user: 'alice', groups: ['team-a', 'system:authenticated'], extra: {} };
const websocket = { upgrade: ['websocket'], connection: ['Upgrade'], 'sec-websocket-key': ['dGhlIHNhbXBsZSBub25jZQ=='], 'sec-websocket-version': ['13'] };

let pki: FrontProxyPki;
let config: RequestHeaderConfig;
let cluster: FakeSubresourceCluster;
let deps: AdmitDeps;

beforeAll(async () => {
  pki = await frontProxyPki();
  config = requestHeaderConfig(requestHeaderData(pki.caPem));
});

beforeEach(() => {
  cluster = new FakeSubresourceCluster();
  cluster.grants.add('alice get console team-a/web').add('alice get vnc team-a/web').add('alice get metrics team-a/web').add('alice get portforward team-a/web');
  cluster.vms.set('team-a/web', { uid: UID });
  cluster.pods.set('team-a/web', { controllerUid: UID, podIP: '10.244.1.7', phase: 'Running' });
  deps = { requestHeader: () => config, cluster };
});

function facts(url: string, more: Partial<IncomingFacts> = {}): IncomingFacts {
  return { method: 'GET', url, headers: { ...websocket, 'sec-websocket-protocol': ['v1.stream.kubevmm.io'] }, peerCertificate: undefined, ...more };
}

describe('authenticate', () => {
  it('believes the headers only with the front proxy certificate; forged ones get a 401 Status', () => {
    const headers = { 'x-remote-user': ['system:admin'], 'x-remote-group': ['system:masters'] };
    const forged = authenticate(deps, facts('/apis', { headers }));
    expect(forged).toMatchObject({ ok: false, status: { code: 401, reason: 'Unauthorized', message: expect.stringMatching(/no front-proxy client certificate/) } });
    expect(kubeStatus.parse((forged as { status: unknown }).status)).toBeTruthy();
    const foreign = authenticate(deps, facts('/apis', { headers, peerCertificate: new X509Certificate(pki.foreign.certPem).raw }));
    expect(foreign).toMatchObject({ ok: false, status: { code: 401, message: expect.stringMatching(/not signed by the requestheader CA/) } });
    const good = authenticate(deps, facts('/apis', { headers: { 'x-remote-user': ['alice'] }, peerCertificate: new X509Certificate(pki.client.certPem).raw }));
    expect(good).toEqual({ ok: true, identity: { user: 'alice', groups: [], extra: {} } });
  });

  it('believes nobody (503) until the front proxy settings were read', () => {
    expect(authenticate({ ...deps, requestHeader: () => undefined }, facts('/apis'))).toMatchObject({ ok: false, status: { code: 503, message: expect.stringMatching(/extension-apiserver-authentication/) } });
  });
});

describe('admitSubresource', () => {
  it('admits an allowed user to a running VM, asking the API server about that user on that subresource', async () => {
    const result = await admitSubresource(deps, alice, facts(`${BASE}/web/console`));
    expect(result).toEqual({ ok: true, identity: alice, request: { namespace: 'team-a', name: 'web', subresource: 'console' }, target: { ip: '10.244.1.7', vmUid: UID } });
    expect(cluster.reviews[0]!.spec).toMatchObject({ user: 'alice', groups: ['team-a', 'system:authenticated'], resourceAttributes: { group: 'subresources.kubevmm.io', resource: 'virtualmachines', subresource: 'console', verb: 'get', namespace: 'team-a', name: 'web' } });
    expect(cluster.calls).toEqual(['review alice', 'vm team-a/web', 'pod team-a/web']);
  });

  it('refuses a user without the grant with 403 naming the permission, before reading the VM', async () => {
    const bob = { user: 'bob', groups: ['system:authenticated'], extra: {} };
    const result = await admitSubresource(deps, bob, facts(`${BASE}/web/console`));
    expect(result).toMatchObject({ ok: false, status: { code: 403, reason: 'Forbidden', message: expect.stringMatching(/user "bob" cannot get resource "virtualmachines\/console" in API group "subresources.kubevmm.io" in the namespace "team-a"/) } });
    expect(cluster.calls).toEqual(['review bob']);
  });

  it('fails closed with 503 when the review cannot be made', async () => {
    cluster.failures.review = apiError(undefined, 'connect ECONNREFUSED');
    expect(await admitSubresource(deps, alice, facts(`${BASE}/web/console`))).toMatchObject({ ok: false, status: { code: 503, message: expect.stringMatching(/SubjectAccessReview.*ECONNREFUSED.*try again/) } });
    expect(cluster.calls).toEqual(['review alice']);
  });

  it.each([
    ['an unknown subresource', `${BASE}/web/exec`, 404, /no subresource "exec"/],
    ['another resource', '/apis/subresources.kubevmm.io/v1alpha1/namespaces/team-a/pods/p/console', 404, /is not a subresource/],
    ['portforward without a port', `${BASE}/web/portforward`, 400, /port/],
    ['portforward to port 0', `${BASE}/web/portforward?port=0`, 400, /port must be 1-65535/],
    ['a bad VM name', `${BASE}/Web_1/console`, 400, /name/],
  ])('refuses %s before asking anyone', async (_what, url, code, message) => {
    expect(await admitSubresource(deps, alice, facts(url))).toMatchObject({ ok: false, status: { code, message: expect.stringMatching(message) } });
    expect(cluster.calls).toEqual([]);
  });

  it('refuses methods other than GET with 405', async () => {
    expect(await admitSubresource(deps, alice, facts(`${BASE}/web/console`, { method: 'POST' }))).toMatchObject({ ok: false, status: { code: 405, reason: 'MethodNotAllowed' } });
  });

  it('wants a WebSocket offering v1.stream.kubevmm.io for a stream, and never repeats a bearer subprotocol', async () => {
    const plain = await admitSubresource(deps, alice, facts(`${BASE}/web/console`, { headers: {} }));
    expect(plain).toMatchObject({ ok: false, status: { code: 400, message: expect.stringMatching(/open it as a WebSocket/) } });
    const offered = { ...websocket, 'sec-websocket-protocol': ['base64url.bearer.authorization.k8s.io.c2VjcmV0, v4.channel.k8s.io'] };
    const wrong = await admitSubresource(deps, alice, facts(`${BASE}/web/console`, { headers: offered }));
    expect(wrong).toMatchObject({ ok: false, status: { code: 400, message: 'the WebSocket must offer the subprotocol v1.stream.kubevmm.io (offered: v4.channel.k8s.io)' } });
    for (const secret of ['Base64Url.Bearer.Authorization.K8s.Io.c2VjcmV0', 'BASE64URL.BEARER.AUTHORIZATION.K8S.IO.c2VjcmV0', 'bearer.c2VjcmV0']) {
      const cased = { ...websocket, 'sec-websocket-protocol': [`${secret}, v4.channel.k8s.io`] };
      const refused = await admitSubresource(deps, alice, facts(`${BASE}/web/console`, { headers: cased }));
      expect(refused).toMatchObject({ ok: false, status: { code: 400, message: 'the WebSocket must offer the subprotocol v1.stream.kubevmm.io (offered: v4.channel.k8s.io)' } });
      expect(JSON.stringify(refused)).not.toMatch(/c2VjcmV0/);
    }
    expect(JSON.stringify(wrong)).not.toMatch(/c2VjcmV0|bearer/);
    const metrics = await admitSubresource(deps, alice, facts(`${BASE}/web/metrics`));
    expect(metrics).toMatchObject({ ok: false, status: { code: 400, message: 'metrics is not a stream: GET it without Upgrade' } });
    expect(await admitSubresource(deps, alice, facts(`${BASE}/web/metrics`, { headers: {} }))).toMatchObject({ ok: true });
  });

  it('names the VM that does not exist (404) and the one that is not running (409, with the command that starts it)', async () => {
    cluster.grants.add('alice get console team-a/gone');
    expect(await admitSubresource(deps, alice, facts(`${BASE}/gone/console`))).toMatchObject({ ok: false, status: { code: 404, reason: 'NotFound', message: 'virtualmachines.kubevmm.io "gone" not found in namespace "team-a"', details: { name: 'gone' } } });
    cluster.pods.delete('team-a/web');
    expect(await admitSubresource(deps, alice, facts(`${BASE}/web/console`))).toMatchObject({
      ok: false,
      status: { code: 409, reason: 'Conflict', message: 'VM team-a/web is not running (it has no launcher pod); start it with "kubevmm start web -n team-a"' },
    });
  });

  it('refuses vnc on a VM whose display is off, naming the field', async () => {
    cluster.vms.set('team-a/web', { uid: UID, graphics: 'none' });
    expect(await admitSubresource(deps, alice, facts(`${BASE}/web/vnc`))).toMatchObject({ ok: false, status: { code: 409, message: expect.stringMatching(/spec\.devices\.graphics is "none"; set it to vnc/) } });
    expect(await admitSubresource(deps, alice, facts(`${BASE}/web/console`))).toMatchObject({ ok: true });
  });

  it('says 503 when the API server is unavailable, 500 when the server itself may not read', async () => {
    cluster.failures.vm = apiError(503);
    expect(await admitSubresource(deps, alice, facts(`${BASE}/web/console`))).toMatchObject({ status: { code: 503 } });
    cluster.failures.vm = apiError(403, 'forbidden: the server ServiceAccount cannot get virtualmachines');
    expect(await admitSubresource(deps, alice, facts(`${BASE}/web/console`))).toMatchObject({ status: { code: 500, message: expect.stringMatching(/cannot get virtualmachines/) } });
  });
});

describe('launcherTarget', () => {
  const vm = { uid: UID };
  it.each([
    [undefined, 'it has no launcher pod'],
    [{ controllerUid: 'another-uid', podIP: '10.0.0.1', phase: 'Running' }, 'its launcher pod belongs to an earlier VM of that name'],
    [{ podIP: '10.0.0.1', phase: 'Running' }, 'its launcher pod belongs to an earlier VM of that name'],
    [{ controllerUid: UID, podIP: '10.0.0.1', phase: 'Pending' }, 'its launcher pod is Pending'],
    [{ controllerUid: UID, phase: 'Running' }, 'its launcher pod has no IP yet'],
    [{ controllerUid: UID, podIP: '10.0.0.1', phase: 'Succeeded' }, 'its launcher pod is Succeeded'],
  ])('finds no launcher in %j: %s', (pod, why) => {
    expect(launcherTarget(vm, pod)).toEqual({ ok: false, why });
  });

  it('dials the pod IP and checks the VM UID as the launcher name', () => {
    expect(launcherTarget(vm, { controllerUid: UID, podIP: '10.0.0.1', phase: 'Running' })).toEqual({ ok: true, target: { ip: '10.0.0.1', vmUid: UID } });
  });
});
