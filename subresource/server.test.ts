// The whole request path in one process: the HTTPS server, the front proxy check, the
// subresource checks against a fake API server, and a real LauncherDialer to a stand-in
// launcher on this host. test/subresource/ runs the same against a real control plane.
import { X509Certificate } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { WebSocket } from 'ws';
import { browserProtocols, kubeStatus, STREAM_PROTOCOL, vmMetricsObject } from '../api/contract/subresource.js';
import { frontProxyPki, testAuthority, testClient, testServing, writeLauncherCredentials, type FrontProxyPki } from '../harness/pki.js';
import { httpsGet, openStream, type SubresourceClient } from '../harness/subresource-client.js';
import { startStreamLauncher, type StreamLauncher } from '../harness/stream-launcher.js';
import { FakeSubresourceCluster, requestHeaderData } from '../test/fakes/subresource-cluster.js';
import { requestHeaderConfig, type RequestHeaderConfig } from './auth/request-header.js';
import { LauncherDialer } from './launcher-dial.js';
import { silentLog } from './log.js';
import { startSubresourceServer, type SubresourceServer } from './server.js';
import { MAX_STREAM_MESSAGE_BYTES } from '../api/contract/stream-message.js';
import { StreamAcceptor } from './stream.js';
import { StreamLimits } from './stream-limits.js';
import { ImporterRelay } from './upload-relay.js';

const VM = { name: 'web', namespace: 'team-a', uid: '3c2b1a09-8f7e-4d6c-9b5a-112233445566' };
const BASE = `/apis/subresources.kubevmm.io/v1alpha1/namespaces/${VM.namespace}/virtualmachines/${VM.name}`;

let pki: FrontProxyPki;
let serving: { caPem: string; certPem: string; keyPem: string };
let dir: string;
let launcher: StreamLauncher;
let cluster: FakeSubresourceCluster;
let server: SubresourceServer;
let config: RequestHeaderConfig | undefined;
let notReady: string[] = [];

beforeAll(async () => {
  pki = await frontProxyPki();
  serving = await testServing(['localhost', '127.0.0.1']);
  const authority = await testAuthority();
  const client = await testClient(authority, 'kubevmm-subresources');
  dir = await mkdtemp(join(tmpdir(), 'subresource-server-'));
  const files = await writeLauncherCredentials(authority, VM, dir);
  const [cert, key, clientCa] = await Promise.all([files.certFile, files.keyFile, files.clientCaFile].map((f) => readFile(f, 'utf8')));
  launcher = await startStreamLauncher({ tls: { cert: cert!, key: key!, clientCa: clientCa! }, host: '127.0.0.1', port: 0 });
  cluster = new FakeSubresourceCluster();
  server = await startSubresourceServer({
    port: 0,
    host: '127.0.0.1',
    tls: { cert: serving.certPem, key: serving.keyPem },
    deps: {
      requestHeader: () => config,
      cluster,
      launcher: new LauncherDialer({ tls: () => client, port: launcher.port }),
      importer: new ImporterRelay({ tls: () => client }),
      acceptor: new StreamAcceptor(),
      limits: new StreamLimits({ maxStreams: 100, maxStreamsPerUser: 2 }),
      log: silentLog,
      notReady: () => notReady,
    },
  });
});

afterAll(async () => {
  await server.close();
  await launcher.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  config = requestHeaderConfig(requestHeaderData(pki.caPem));
  notReady = [];
  cluster.calls = [];
  cluster.grants = new Set(['alice get console team-a/web', 'alice get vnc team-a/web', 'alice get metrics team-a/web']);
  cluster.vms.set('team-a/web', { uid: VM.uid });
  cluster.pods.set('team-a/web', { controllerUid: VM.uid, podIP: '127.0.0.1', phase: 'Running' });
  launcher.refuse.clear();
  launcher.consoleMode = 'interactive';
  launcher.greeting = '';
});

type Identity = { cert?: { certPem: string; keyPem: string }; user?: string; groups?: string[] };

function clientOf(who: Identity): SubresourceClient {
  const headers = { ...(who.user ? { 'X-Remote-User': who.user } : {}), ...(who.groups ? { 'X-Remote-Group': who.groups } : {}) };
  return { ca: serving.caPem, ...(who.cert ? { cert: who.cert.certPem, key: who.cert.keyPem } : {}), headers };
}

const proxy = (user: string, groups?: string[]): Identity => ({ cert: pki.client, user, ...(groups ? { groups } : {}) });
const get = (path: string, who: Identity = {}) => httpsGet(`${server.url}${path}`, clientOf(who));
const open = (path: string, who: Identity, protocols?: string[]) => openStream(`${server.url.replace('https', 'wss')}${path}`, clientOf(who), protocols);

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: Buffer, binary: boolean) => resolve({ data, binary })));
}

describe('probes', () => {
  it('answer without a client certificate; /readyz says what is missing', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    notReady = ['the requestheader ConfigMap was not read yet'];
    expect(await get('/readyz')).toMatchObject({ status: 503, body: 'not ready: the requestheader ConfigMap was not read yet\n' });
    notReady = [];
    expect((await get('/readyz')).status).toBe(200);
  });
});

describe('discovery', () => {
  it('is served to the front proxy only', async () => {
    const anonymous = await get('/apis/subresources.kubevmm.io/v1alpha1', { user: 'system:kube-aggregator' });
    expect(anonymous.status).toBe(401);
    expect(kubeStatus.parse(JSON.parse(anonymous.body))).toMatchObject({ reason: 'Unauthorized' });
    const aggregator = await get('/apis/subresources.kubevmm.io/v1alpha1', proxy('system:kube-aggregator', ['system:masters']));
    expect(aggregator.status).toBe(200);
    expect(JSON.parse(aggregator.body)).toMatchObject({ kind: 'APIResourceList', resources: expect.arrayContaining([expect.objectContaining({ name: 'virtualmachines/console', verbs: ['get'] })]) });
    expect((await get('/openapi/v2', proxy('system:kube-aggregator'))).status).toBe(404);
  });
});

describe('streams', () => {
  it('opens the console for an allowed user: the stream subprotocol (never the bearer one), the console mode, bytes both ways', async () => {
    launcher.consoleMode = 'read-only';
    launcher.greeting = 'login: ';
    const opened = await open(`${BASE}/console`, proxy('alice', ['team-a']), browserProtocols('secret-token').reverse());
    expect(opened.status).toBe(101);
    const ws = opened.ws!;
    expect(ws.protocol).toBe(STREAM_PROTOCOL);
    expect(opened.headers['kubevmm-console-mode']).toBe('read-only');
    expect(JSON.stringify(opened.headers)).not.toMatch(/secret|bearer/);
    const greeting = await nextMessage(ws);
    expect(greeting).toEqual({ data: Buffer.from('login: '), binary: true });
    const echo = nextMessage(ws);
    ws.send(Buffer.from('root\r'), { binary: true });
    expect((await echo).data.toString()).toBe('root\r');
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.close(1000);
    expect(await closed).toBe(1000);
    expect(launcher.calls.at(-1)).toEqual({ path: '/console', client: 'kubevmm-subresources' });
  });

  it('refuses forged identity headers without the front proxy certificate, reaching neither the API server nor the launcher', async () => {
    const calls = launcher.calls.length;
    const forged = await open(`${BASE}/console`, { user: 'alice', groups: ['system:masters'] });
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.body)).toMatchObject({ kind: 'Status', code: 401, message: expect.stringMatching(/no front-proxy client certificate/) });
    const foreign = await open(`${BASE}/console`, { cert: pki.foreign, user: 'alice' });
    expect(foreign.status).toBe(401);
    expect(cluster.calls).toEqual([]);
    expect(launcher.calls.length).toBe(calls);
  });

  it('refuses a user without the grant with a 403 naming the permission', async () => {
    const denied = await open(`${BASE}/console`, proxy('bob'));
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body).message).toMatch(/user "bob" cannot get resource "virtualmachines\/console" in API group "subresources.kubevmm.io"/);
  });

  it("passes the launcher's refusal on as a Status, and refuses a client that does not speak the stream's subprotocol", async () => {
    launcher.refuse.set('/vnc', { status: 409, reason: 'NoDisplay', message: 'the VM has no VNC display' });
    const refused = await open(`${BASE}/vnc`, proxy('alice'));
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.body)).toMatchObject({ reason: 'Conflict', message: 'VM team-a/web: the VM has no VNC display (NoDisplay)' });
    const wrong = await open(`${BASE}/console`, proxy('alice'), ['v4.channel.k8s.io']);
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.body).message).toMatch(/must offer the subprotocol v1\.stream\.kubevmm\.io/);
  });
});

describe('stream limits', () => {
  it("refuses a user's stream past the per-user cap with a Status naming it, and takes one again once a stream closed", async () => {
    cluster.grants.add('carol get console team-a/web');
    const first = await open(`${BASE}/console`, proxy('carol'));
    const second = await open(`${BASE}/console`, proxy('carol'));
    expect([first.status, second.status]).toEqual([101, 101]);
    const third = await open(`${BASE}/console`, proxy('carol'));
    expect(third.status).toBe(503);
    expect(JSON.parse(third.body)).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', message: expect.stringMatching(/--max-streams-per-user=2/) });
    expect((await open(`${BASE}/console`, proxy('alice'))).status).toBe(101); // another user is not held back
    const closed = new Promise((r) => first.ws!.once('close', r));
    first.ws!.close(1000);
    await closed;
    let again = await open(`${BASE}/console`, proxy('carol'));
    for (let i = 0; again.status !== 101 && i < 50; i++) again = await open(`${BASE}/console`, proxy('carol')); // the server sees the close a moment later
    expect(again.status).toBe(101);
    for (const s of [second, again]) s.ws!.close(1000);
  });
});

describe('client messages', () => {
  it('closes a stream whose client sends a message over 256 KiB (1009), so no stream holds more', async () => {
    const opened = await open(`${BASE}/console`, proxy('alice'));
    expect(opened.status).toBe(101);
    const closed = new Promise<number>((r) => opened.ws!.once('close', (code) => r(code)));
    opened.ws!.on('error', () => undefined);
    opened.ws!.send(Buffer.alloc(MAX_STREAM_MESSAGE_BYTES + 1, 1), { binary: true });
    expect(await closed).toBe(1009);
  });
});

describe('metrics', () => {
  it('answers the launcher report as a VirtualMachineMetrics object', async () => {
    const answer = await get(`${BASE}/metrics`, proxy('alice'));
    expect(answer.status).toBe(200);
    const object = vmMetricsObject.parse(JSON.parse(answer.body));
    expect(object).toMatchObject({ kind: 'VirtualMachineMetrics', apiVersion: 'subresources.kubevmm.io/v1alpha1', metadata: { name: 'web', namespace: 'team-a' }, cpu: { qemuSeconds: 12.5 } });
  });

  it('takes a user in many groups, whose identity headers outgrow 16 KiB', async () => {
    const groups = Array.from({ length: 800 }, (_, i) => `oidc:engineering-department-team-${i}`);
    const answer = await get(`${BASE}/metrics`, proxy('alice', groups));
    expect(answer.status).toBe(200);
    expect(cluster.reviews.at(-1)?.spec.groups).toHaveLength(800);
  });

  it('says 409 and how to start the VM when it is not running', async () => {
    cluster.pods.delete('team-a/web');
    const answer = await get(`${BASE}/metrics`, proxy('alice'));
    expect(answer.status).toBe(409);
    expect(JSON.parse(answer.body).message).toMatch(/kubevmm start web -n team-a/);
  });
});

describe('serving certificate', () => {
  it('serves a renewed certificate to new connections without a restart', async () => {
    const serial = () =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: server.port, ca: serving.caPem, servername: 'localhost' }, () => {
          resolve(new X509Certificate(socket.getPeerCertificate().raw).serialNumber);
          socket.end();
        });
        socket.on('error', reject);
      });
    const before = await serial();
    const renewed = await testServing(['localhost']);
    server.setTls({ cert: renewed.certPem, key: renewed.keyPem });
    const after = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: server.port, ca: renewed.caPem, servername: 'localhost' }, () => {
        resolve(new X509Certificate(socket.getPeerCertificate().raw).serialNumber);
        socket.end();
      });
      socket.on('error', reject);
    });
    expect(after).not.toBe(before);
    server.setTls({ cert: serving.certPem, key: serving.keyPem });
  });
});
