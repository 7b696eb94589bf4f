// The web console's server against the local control plane (docs/ui.md, ADR 0018), with real
// HTTP and WebSocket clients. Local mode (`kubevmm ui`): no API and no configuration without the
// session token (a bearer token; never a cookie); a foreign Host or Origin is refused even with
// it; the printed address carries it; the API is
// reached with the kubeconfig's client certificate, watches stream and end with the browser,
// WebSockets are relayed. Cluster mode: the browser's bearer token (header, or subprotocol on
// a WebSocket) reaches the API server as that user, and without one the API server answers an
// anonymous request: the server adds nothing.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { BEARER_PROTOCOL_PREFIX } from '../../api/contract/subresource.js';
import { startUiServer, type UiServer } from '../../ui/server/server.js';
import { caUpstream } from '../../ui/server/upstream.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from '../operator/helpers/control-plane.js';
import { createNamespace, kubectl, waitFor } from '../operator/helpers/operator-process.js';
import { adminTls, apply } from '../subresource/helpers.js';
import { fetchRaw, openWatches, streamLines, upgrade, type Refused, type Upgraded } from './helpers.js';

const NS = `ui-server-${process.pid}`;
const SA = 'console-user';
const INDEX = '<!doctype html><title>kubevmm test app</title>\n';

describe('the web console server', () => {
  let cp: ControlPlane;
  let dir: string;
  let local: UiServer;
  let cluster: UiServer;
  let session: string;
  let token: string;
  let host: string;

  beforeAll(async () => {
    cp = await useControlPlane();
    createNamespace(NS);
    // The ServiceAccount may read ConfigMaps in its namespace, nothing else.
    apply(
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: NS } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: SA, namespace: NS }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: SA, namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: SA }, subjects: [{ kind: 'ServiceAccount', name: SA, namespace: NS }] },
    );
    token = kubectl(['create', 'token', SA, '-n', NS, '--duration', '1h']).stdout.trim();
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-ui-app-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), INDEX);
    await writeFile(join(dir, 'assets', 'app-ABCDEFGH.js'), 'export {};\n');
    await writeFile(join(tmpdir(), 'kubevmm-ui-outside.txt'), 'outside\n');
    local = await startUiServer({ mode: 'local', staticDir: dir, kubeConfig: cp.kc, namespace: NS, user: 'admin', version: 'test' });
    const { server, ca } = adminTls(cp.kc);
    cluster = await startUiServer({ mode: 'cluster', staticDir: dir, upstream: caUpstream(new URL(server), () => ca), namespace: NS, version: 'test' });
    host = new URL(local.origin).host;
    session = `Bearer ${local.sessionToken}`;
  }, CONTROL_PLANE_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all([local?.close(), cluster?.close()]);
    kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFail: true });
    if (dir) await rm(dir, { recursive: true, force: true });
    await cp?.release();
  });

  describe('local mode (kubevmm ui)', () => {
    it('refuses the API, the configuration and WebSockets without the session token, a cookie of it included, and says where to go', async () => {
      const config = await fetchRaw(local.origin, '/config.json', { headers: { host } });
      expect(config.status).toBe(401);
      expect(JSON.parse(config.body)).toMatchObject({ kind: 'Status', code: 401, message: expect.stringContaining('kubevmm ui') });
      // The cookie the console once used, with the right token: cookies reach every port of a host, so they count for nothing.
      const api = await fetchRaw(local.origin, '/k8s/api/v1/namespaces', { headers: { host, cookie: `kubevmm-ui-session=${local.sessionToken}` } });
      expect(api.status).toBe(401);
      expect(JSON.parse(api.body)).toMatchObject({ kind: 'Status', code: 401 });
      expect((await fetchRaw(local.origin, '/k8s/api/v1/namespaces', { headers: { host, authorization: 'Bearer guessed' } })).status).toBe(401);
      const ws = (await upgrade(local.origin, `/k8s/api/v1/namespaces/${NS}/configmaps?watch=1`, { host, origin: local.origin })) as Refused;
      expect(ws.status).toBe(401);
    });

    it('prints an address carrying the session token; the app’s files come to anyone, its configuration only with the token', async () => {
      expect(local.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?session=[A-Za-z0-9_-]{43}$/);
      expect(local.url.endsWith(`=${local.sessionToken}`)).toBe(true);
      const page = await fetchRaw(local.origin, new URL(local.url).pathname + new URL(local.url).search, { headers: { host } });
      expect(page).toMatchObject({ status: 200, body: INDEX });
      expect(page.headers['set-cookie']).toBeUndefined();
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect(page.headers['cache-control']).toBe('no-cache');
      expect((await fetchRaw(local.origin, '/assets/app-ABCDEFGH.js', { headers: { host } })).status).toBe(200);
      const config = JSON.parse((await fetchRaw(local.origin, '/config.json', { headers: { host, authorization: session } })).body);
      expect(config).toEqual({ mode: 'local', namespace: NS, user: 'admin', version: 'test' });
    });

    it('serves client-side routes as the app, never a file outside its directory', async () => {
      expect((await fetchRaw(local.origin, '/vms/default/web.1', { headers: { host } })).body).toBe(INDEX);
      expect((await fetchRaw(local.origin, '/assets/missing-ABCDEFGH.js', { headers: { host } })).status).toBe(404);
      for (const path of ['/../kubevmm-ui-outside.txt', '/%2e%2e/kubevmm-ui-outside.txt', '/assets/..%2f..%2fkubevmm-ui-outside.txt']) {
        const answer = await fetchRaw(local.origin, path, { headers: { host } });
        expect([path, answer.status, answer.body.includes('outside')]).toEqual([path, 400, false]);
      }
    });

    it('refuses a foreign Host (DNS rebinding) and a cross-origin write or WebSocket, even with the session token', async () => {
      expect((await fetchRaw(local.origin, '/', { headers: { host: `rebound.example:${local.port}` } })).status).toBe(403);
      expect((await fetchRaw(local.origin, '/k8s/api/v1/namespaces', { headers: { host: `rebound.example:${local.port}`, authorization: session } })).status).toBe(403);
      const write = await fetchRaw(local.origin, `/k8s/api/v1/namespaces/${NS}/configmaps`, { method: 'POST', headers: { host, authorization: session, origin: 'http://evil.example', 'content-type': 'application/json' }, body: JSON.stringify({ metadata: { name: 'csrf' } }) });
      expect(write.status).toBe(403);
      expect(kubectl(['get', 'configmap', 'csrf', '-n', NS], { allowFail: true }).code).not.toBe(0);
      const ws = (await upgrade(local.origin, `/k8s/api/v1/namespaces/${NS}/configmaps?watch=1`, { host, authorization: session, origin: 'http://evil.example' })) as Refused;
      expect(ws.status).toBe(403);
    });

    it('reaches the API with the kubeconfig’s client certificate; the page’s bearer token (the session) is dropped', async () => {
      const list = await fetchRaw(local.origin, '/k8s/api/v1/namespaces', { headers: { host, authorization: session } });
      expect(list.status).toBe(200);
      expect((JSON.parse(list.body) as { items: { metadata: { name: string } }[] }).items.map((n) => n.metadata.name)).toContain(NS);
      expect(list.headers['content-security-policy']).toContain('sandbox');
      const review = await fetchRaw(local.origin, '/k8s/apis/authentication.k8s.io/v1/selfsubjectreviews', { method: 'POST', headers: { host, authorization: session, origin: local.origin, 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }) });
      // The same identity kubectl has with this kubeconfig: its client certificate's.
      const kubectlUser = JSON.parse(kubectl(['auth', 'whoami', '-o', 'json']).stdout).status.userInfo;
      expect(JSON.parse(review.body).status.userInfo).toEqual(kubectlUser);
    });

    it('streams a watch event by event, and ends the API server’s watch when the browser goes away', async () => {
      // /metrics is megabytes: through cp.kubectl, whose buffer holds it.
      const watches = async () => openWatches(await cp.kubectl('get', '--raw', '/metrics'), 'configmaps');
      const before = await watches();
      const rv = JSON.parse((await fetchRaw(local.origin, `/k8s/api/v1/namespaces/${NS}/configmaps`, { headers: { host, authorization: session } })).body).metadata.resourceVersion as string;
      const watch = await streamLines(local.origin, `/k8s/api/v1/namespaces/${NS}/configmaps?watch=1&resourceVersion=${rv}`, { host, authorization: session });
      expect(watch.status).toBe(200);
      kubectl(['create', 'configmap', 'after-the-watch', '-n', NS]);
      const event = JSON.parse(await watch.next((l) => l.includes('after-the-watch')));
      expect(event).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'after-the-watch' } } });
      await waitFor('the watch to count at the API server', async () => (await watches()) > before);
      watch.abort();
      await waitFor('the API server’s watch to end with the browser’s', async () => (await watches()) <= before, 20_000);
    });

    it('relays a WebSocket upgrade to the API server (a watch over WebSocket)', async () => {
      // The browser sends the token as a subprotocol (unit-tested with the relay); this client may send a header.
      const ws = new WebSocket(`ws://${host}/k8s/api/v1/namespaces/${NS}/configmaps?watch=1`, { origin: local.origin, headers: { authorization: session } });
      const first = await new Promise<string>((resolve, reject) => {
        ws.once('message', (data: Buffer) => resolve(data.toString('utf8')));
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      });
      ws.close();
      expect(JSON.parse(first)).toMatchObject({ type: 'ADDED', object: { kind: 'ConfigMap' } });
    });
  });

  describe('cluster mode (the chart’s Deployment)', () => {
    it('passes the user’s bearer token on: the API server sees that user', async () => {
      const review = await fetchRaw(cluster.origin, '/k8s/apis/authentication.k8s.io/v1/selfsubjectreviews', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }) });
      expect(review.status).toBe(201);
      expect(JSON.parse(review.body).status.userInfo.username).toBe(`system:serviceaccount:${NS}:${SA}`);
      expect(JSON.parse((await fetchRaw(cluster.origin, '/config.json')).body)).toEqual({ mode: 'cluster', namespace: NS, version: 'test' });
    });

    it('answers a forbidden call with the API server’s own 403 and message', async () => {
      const answer = await fetchRaw(cluster.origin, '/k8s/api/v1/secrets', { headers: { authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body)).toMatchObject({ kind: 'Status', reason: 'Forbidden', message: expect.stringContaining(`"system:serviceaccount:${NS}:${SA}" cannot list resource "secrets"`) });
    });

    it('adds nothing without a token: the API server answers an anonymous request', async () => {
      const answer = await fetchRaw(cluster.origin, `/k8s/api/v1/namespaces/${NS}/configmaps`);
      expect([401, 403]).toContain(answer.status);
      const status = JSON.parse(answer.body) as { message: string; code: number };
      expect(status.code).toBe(answer.status);
      if (answer.status === 403) expect(status.message).toContain('system:anonymous');
    });

    it('relays a WebSocket whose bearer subprotocol the API server authenticates, byte for byte', async () => {
      const bearer = `${BEARER_PROTOCOL_PREFIX}${Buffer.from(token).toString('base64url')}`;
      const origin = new URL(cluster.origin);
      // The API server takes the token only beside another subprotocol, the one it answers with
      // (for console and VNC, v1.stream.kubevmm.io): it removes the bearer one before the handler.
      const ws = (await upgrade(cluster.origin, `/k8s/api/v1/namespaces/${NS}/configmaps?watch=1`, { host: origin.host, origin: cluster.origin, 'sec-websocket-protocol': `${bearer}, kubevmm.test.watch` })) as Upgraded;
      expect(ws.status).toBe(101);
      expect(ws.headers['sec-websocket-protocol']).toBe('kubevmm.test.watch');
      const event = JSON.parse((await ws.frame()).toString('utf8'));
      expect(event).toMatchObject({ type: 'ADDED', object: { kind: 'ConfigMap', metadata: { namespace: NS } } });
      ws.socket.destroy();
      const anonymous = (await upgrade(cluster.origin, `/k8s/api/v1/namespaces/${NS}/configmaps?watch=1`, { host: origin.host, origin: cluster.origin })) as Refused;
      expect([401, 403]).toContain(anonymous.status);
      // A bearer subprotocol alone: the API server's own refusal comes back as it sent it.
      const alone = (await upgrade(cluster.origin, `/k8s/api/v1/namespaces/${NS}/configmaps?watch=1`, { host: origin.host, origin: cluster.origin, 'sec-websocket-protocol': bearer })) as Refused;
      expect(alone.status).toBe(401);
      expect(JSON.parse(alone.body)).toMatchObject({ kind: 'Status', code: 401 });
    });
  });
});
