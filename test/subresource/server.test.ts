// The subresource server (ADR 0011) as a process against the real local control plane, with a
// ServiceAccount holding exactly its declared rights. Called directly over HTTPS, it believes
// identity headers only with the API server's own front-proxy certificate, asks the API server
// about each user, and reaches launchers at their (KWOK-simulated) pod IPs: the real launcher
// control server for one VM's console, a stand-in for another VM's port-forward and metrics.
// Then the same through the API server's aggregator, an APIService whose ExternalName Service
// points at this host: kubectl, impersonation, and a browser's bearer-token subprotocol.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import { browserProtocols, STREAM_PROTOCOL, vmMetricsObject } from '../../api/contract/subresource.js';
import { CONTROL_PORT } from '../../api/layout.js';
import { frontProxyPki, testAuthority, writeLauncherCredentials, type LauncherAuthority } from '../../harness/pki.js';
import { closeStream, httpsGet, openStream, readUntil, type SubresourceClient } from '../../harness/subresource-client.js';
import { startControlServer, type ControlServer } from '../../launcher/control/server.js';
import { READ_ONLY_NOTICE, SerialHub } from '../../launcher/runtime/serial.js';
import type { VmController } from '../../launcher/runtime/status.js';
import { fakeSerialPort, type FakeSerialPort } from '../fakes/serial-port.js';
import { startStreamLauncher, type StreamLauncher } from '../../harness/stream-launcher.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlaneWithCrds, type ControlPlane } from '../operator/helpers/control-plane.js';
import { createNamespace, getJson, kubectl, waitFor } from '../operator/helpers/operator-process.js';
import { adminTls, APISERVICE, apply, clusterPki, registerApiService, startServerProcess, type ServerProcess } from './helpers.js';

type Json = Record<string, any>;

const NS = `subres-${Date.now().toString(36).slice(-5)}`;
const SERVER_SA = 'kubevmm-subresources';
const SERVER_ROLE = `${NS}-subresources-server`;
const SERVICE = 'kubevmm-subresources';
const GROUP_VERSION = '/apis/subresources.kubevmm.io/v1alpha1';
const path = (vm: string, sub: string) => `${GROUP_VERSION}/namespaces/${NS}/virtualmachines/${vm}/${sub}`;

let cp: ControlPlane;
let dir: string;
let server: ServerProcess;
let authority: LauncherAuthority;
let serving: { caPem: string };
let frontProxy: { cert: string; key: string };
let webLauncher: ControlServer;
let serial: FakeSerialPort;
let hub: SerialHub;
let dbLauncher: StreamLauncher;

/** The launcher's VM, of which only the console is used here: anything else is a test failure. */
const outOfBounds = () => Promise.reject(new Error('only the console is used in this suite'));
const vmm: VmController = {
  status: () => ({ state: 'running', accelerator: 'tcg', startedAt: new Date().toISOString(), disks: [] }),
  pause: outOfBounds, resume: outOfBounds, reset: outOfBounds, stop: outOfBounds, attachDisk: outOfBounds, detachDisk: outOfBounds,
};

function applyVm(name: string, devices: Json = {}): { name: string; uid: string } {
  apply({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: NS }, spec: { cpu: { cores: 1 }, memory: { guest: '256Mi' }, disks: [{ name: 'root', emptyDisk: { capacity: '1Gi' } }], devices } });
  return { name, uid: getJson<Json>(['vm', '-n', NS, name])!.metadata.uid as string };
}

/** The VM's launcher pod as the operator would create it (owned by the VM); KWOK runs it and gives it a loopback IP. */
async function launcherPod(vm: { name: string; uid: string }): Promise<string> {
  const owner = { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', name: vm.name, uid: vm.uid, controller: true };
  apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${vm.name}-launcher`, namespace: NS, labels: { 'kubevmm.io/vm': vm.name }, ownerReferences: [owner] }, spec: { containers: [{ name: 'launcher', image: 'kubevmm/launcher:test' }] } });
  const pod = await waitFor(`${vm.name}-launcher Running with an IP`, () => {
    const p = getJson<Json>(['pod', '-n', NS, `${vm.name}-launcher`]);
    return p?.status?.phase === 'Running' && p.status.podIP && p;
  }, 60_000);
  return pod.status.podIP as string;
}

function roleFor(name: string, subresources: string[], subjects: Json[]): void {
  const rules = [{ apiGroups: ['subresources.kubevmm.io'], resources: subresources.map((s) => `virtualmachines/${s}`), verbs: ['get'] }];
  apply(
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: NS }, rules },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects },
  );
}

/** A direct caller: the server's CA, the front proxy's certificate (or `cert`), identity headers. */
function direct(user: string | undefined, opts: { groups?: string[]; cert?: { cert: string; key: string } | null } = {}): SubresourceClient {
  const cert = opts.cert === null ? {} : (opts.cert ?? frontProxy);
  return { ca: serving.caPem, servername: 'localhost', ...cert, headers: { ...(user ? { 'X-Remote-User': user } : {}), ...(opts.groups ? { 'X-Remote-Group': opts.groups } : {}) } };
}

const at = (p: string) => `${server.url}${p}`;
const wsAt = (p: string) => `${server.url.replace('https', 'wss')}${p}`;

beforeAll(async () => {
  cp = await useControlPlaneWithCrds();
  createNamespace(NS);
  dir = await mkdtemp(join(tmpdir(), 'subres-'));
  authority = await testAuthority();
  frontProxy = { cert: clusterPki('front-proxy-client.crt'), key: clusterPki('front-proxy-client.key') };

  const started = await startServerProcess({ kc: cp.kc, namespace: NS, dir, authority, clusterRole: SERVER_ROLE, service: SERVICE });
  server = started.server;
  serving = { caPem: started.servingCaPem };

  // web: the real launcher control server's console over a fake serial port.
  const web = applyVm('web');
  const webIp = await launcherPod(web);
  serial = await fakeSerialPort(join(dir, 'serial.sock'));
  hub = await SerialHub.start({ qemuSocket: join(dir, 'serial.sock'), consoleSocket: join(dir, 'console.sock'), logFile: join(dir, 'serial.log') });
  const webFiles = await writeLauncherCredentials(authority, { ...web, namespace: NS }, join(dir, 'web'));
  webLauncher = await startControlServer({ vmm, port: CONTROL_PORT, host: webIp, tls: webFiles, console: () => hub });

  // db: no display, a stand-in for port-forward and metrics.
  const db = applyVm('db', { graphics: 'none' });
  const dbIp = await launcherPod(db);
  const dbFiles = await writeLauncherCredentials(authority, { ...db, namespace: NS }, join(dir, 'db'));
  const [cert, key, clientCa] = await Promise.all([dbFiles.certFile, dbFiles.keyFile, dbFiles.clientCaFile].map((f) => readFile(f, 'utf8')));
  dbLauncher = await startStreamLauncher({ tls: { cert: cert!, key: key!, clientCa: clientCa! }, host: dbIp, port: CONTROL_PORT });

  applyVm('idle'); // no launcher pod: not running
  apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'alice-browser', namespace: NS } });
  roleFor('vm-user', ['console', 'vnc', 'portforward', 'metrics'], [
    { kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' },
    { kind: 'ServiceAccount', name: 'alice-browser', namespace: NS },
  ]);
  apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'viewer', namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'viewer', apiGroup: 'rbac.authorization.k8s.io' }] });
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  // The APIService first: an unavailable one fails discovery (and namespace deletion) cluster-wide.
  kubectl(['delete', 'apiservice', APISERVICE, '--ignore-not-found'], { allowFail: true });
  await server?.stop();
  await webLauncher?.close();
  await dbLauncher?.close();
  await serial?.exit();
  await hub?.close();
  kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFail: true });
  kubectl(['delete', 'clusterrole,clusterrolebinding', SERVER_ROLE, '--ignore-not-found'], { allowFail: true });
  kubectl(['delete', 'rolebinding', '-n', 'kube-system', SERVER_ROLE, '--ignore-not-found'], { allowFail: true });
  if (dir) await rm(dir, { recursive: true, force: true });
  await cp?.release();
});

describe('the subresource server called directly', () => {
  it('refuses forged identity headers without the front-proxy certificate, and a certificate of another CA (401)', async () => {
    const calls = dbLauncher.calls.length;
    const forged = direct('system:admin', { groups: ['system:masters'], cert: null });
    const metrics = await httpsGet(at(path('db', 'metrics')), forged);
    expect(metrics.status).toBe(401);
    expect(JSON.parse(metrics.body)).toMatchObject({ kind: 'Status', reason: 'Unauthorized', message: expect.stringMatching(/no front-proxy client certificate was presented/) });
    expect((await openStream(wsAt(path('db', 'portforward?port=22')), forged)).status).toBe(401);
    const foreign = (await frontProxyPki()).foreign; // CN=front-proxy-client, but another CA
    const impostor = await openStream(wsAt(path('web', 'console')), direct('alice', { cert: { cert: foreign.certPem, key: foreign.keyPem } }));
    expect(impostor.status).toBe(401);
    expect(JSON.parse(impostor.body).message).toMatch(/not signed by the requestheader CA/);
    expect(dbLauncher.calls.length).toBe(calls);
    // pino writes asynchronously: the third line may reach the log a moment after the answer.
    await waitFor('three refusals in the log', () => server.logs().filter((l) => l.msg === 'request refused: not from the front proxy').length >= 3 || undefined, 10_000);
  });

  it("refuses users without the permission with 403 naming it: no RBAC, only view, and the server's own ServiceAccount", async () => {
    const cases: [string, string[]][] = [
      ['mallory', ['system:authenticated']],
      ['viewer', ['system:authenticated']],
      [`system:serviceaccount:${NS}:${SERVER_SA}`, ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated']],
    ];
    for (const [user, groups] of cases) {
      const refused = await openStream(wsAt(path('web', 'console')), direct(user, { groups }));
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body)).toMatchObject({
        reason: 'Forbidden',
        message: expect.stringContaining(`user "${user}" cannot get resource "virtualmachines/console" in API group "subresources.kubevmm.io" in the namespace "${NS}"`),
      });
    }
    expect(serial.received()).toBe('');
  });

  it("opens the real launcher's console for a user the Role allows: output, typing, and a read-only mirror for a second session", async () => {
    await serial.guestWrites('Debian GNU/Linux\r\nweb login: ');
    const first = await openStream(wsAt(path('web', 'console')), direct('alice', { groups: ['system:authenticated'] }));
    expect(first.status).toBe(101);
    expect(first.headers['kubevmm-console-mode']).toBe('interactive');
    const ws = first.ws!;
    expect(ws.protocol).toBe(STREAM_PROTOCOL);
    await readUntil(ws, 'web login: ');
    ws.send(Buffer.from('root\r'), { binary: true });
    await waitFor('the keys reached the guest', () => serial.received() === 'root\r');

    const second = await openStream(wsAt(path('web', 'console')), direct('alice'));
    expect(second.headers['kubevmm-console-mode']).toBe('read-only');
    await readUntil(second.ws!, READ_ONLY_NOTICE.trim());
    second.ws!.send(Buffer.from('reboot\r'), { binary: true });
    const bothSee = Promise.all([readUntil(ws, '# '), readUntil(second.ws!, '# ')]);
    await serial.guestWrites('# ');
    await bothSee;
    expect(serial.received()).toBe('root\r');
    await closeStream(second.ws!);
    await closeStream(ws);
  });

  it('forwards a guest port byte for byte, and never selects a bearer subprotocol offered first', async () => {
    const opened = await openStream(wsAt(path('db', 'portforward?port=22')), direct('alice'), browserProtocols('not-a-real-token').reverse());
    expect(opened.status).toBe(101);
    const ws = opened.ws!;
    expect(ws.protocol).toBe(STREAM_PROTOCOL);
    const echoed = readUntil(ws, 'SSH-2.0-client');
    ws.send(Buffer.from('SSH-2.0-client\r\n'), { binary: true });
    await echoed;
    expect(dbLauncher.calls.at(-1)).toEqual({ path: '/portforward?port=22', client: 'kubevmm-subresources' });
    await closeStream(ws);
  });

  it('answers metrics as a VirtualMachineMetrics object', async () => {
    const answer = await httpsGet(at(path('db', 'metrics')), direct('alice'));
    expect(answer.status).toBe(200);
    expect(vmMetricsObject.parse(JSON.parse(answer.body))).toMatchObject({ kind: 'VirtualMachineMetrics', metadata: { name: 'db', namespace: NS }, cpu: { qemuSeconds: 12.5 } });
  });

  it('names the field when a VM has no display, and the command when a VM is not running (409)', async () => {
    const vnc = await openStream(wsAt(path('db', 'vnc')), direct('alice'));
    expect(vnc.status).toBe(409);
    expect(JSON.parse(vnc.body).message).toMatch(/spec\.devices\.graphics is "none"/);
    const idle = await openStream(wsAt(path('idle', 'console')), direct('alice'));
    expect(idle.status).toBe(409);
    expect(JSON.parse(idle.body).message).toBe(`VM ${NS}/idle is not running (it has no launcher pod); start it with "kubevmm start idle -n ${NS}"`);
    const gone = await httpsGet(at(path('nothing', 'metrics')), direct('alice'));
    expect(gone.status).toBe(404);
    expect(JSON.parse(gone.body).message).toBe(`virtualmachines.kubevmm.io "nothing" not found in namespace "${NS}"`);
    // Permission is asked first: a user without it learns nothing of which VMs exist.
    expect((await httpsGet(at(path('nothing', 'metrics')), direct('mallory'))).status).toBe(403);
  });
});

describe('the subresource server behind the API server (aggregated)', () => {
  beforeAll(async () => {
    await registerApiService({ namespace: NS, service: SERVICE, server, caPem: serving.caPem });
  }, 120_000);

  it('serves metrics to kubectl as the user, and the API server refuses a user without RBAC before proxying', async () => {
    // kubectl asynchronously: the stand-in launcher answering it lives in this process.
    const metrics = JSON.parse(await cp.kubectl('get', '--raw', path('db', 'metrics'), '--as', 'alice')) as Json;
    expect(vmMetricsObject.parse(metrics).metadata).toEqual({ name: 'db', namespace: NS });
    const denied = kubectl(['get', '--raw', path('db', 'metrics'), '--as', 'mallory'], { allowFail: true });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/forbidden/i);
    expect(kubectl(['get', '--raw', GROUP_VERSION]).stdout).toMatch(/virtualmachines\/console/);
  });

  it('streams the console through the API server for an impersonated user', async () => {
    const admin = adminTls(cp.kc);
    const url = `${admin.server.replace('https', 'wss')}${path('web', 'console')}`;
    const opened = await openStream(url, { ca: admin.ca, cert: admin.cert, key: admin.key, headers: { 'Impersonate-User': 'alice' } });
    expect(opened.status).toBe(101);
    expect(opened.headers['kubevmm-console-mode']).toBe('interactive');
    const ws: WebSocket = opened.ws!;
    const echoed = readUntil(ws, 'uname\r\nLinux');
    ws.send(Buffer.from('uname\r'), { binary: true });
    await waitFor('the keys reached the guest', () => serial.received().endsWith('uname\r'));
    await serial.guestWrites('uname\r\nLinux\r\n');
    await echoed;
    await closeStream(ws);
    await waitFor("alice's stream in the log", () => server.logs().some((l) => l.msg === 'stream opened' && l.user === 'alice') || undefined, 10_000);
  });

  it("takes a browser's bearer token subprotocol at the API server; the server selects the stream's and never sees the token", async () => {
    const token = kubectl(['create', 'token', 'alice-browser', '-n', NS, '--duration', '10m']).stdout.trim();
    const admin = adminTls(cp.kc);
    const url = `${admin.server.replace('https', 'wss')}${path('db', 'portforward?port=80')}`;
    const opened = await openStream(url, { ca: admin.ca }, browserProtocols(token));
    expect(opened.status).toBe(101);
    expect(opened.ws!.protocol).toBe(STREAM_PROTOCOL);
    const echoed = readUntil(opened.ws!, 'GET / HTTP/1.0');
    opened.ws!.send(Buffer.from('GET / HTTP/1.0\r\n\r\n'), { binary: true });
    await echoed;
    await closeStream(opened.ws!);
    await waitFor('the browser user in the log', () => server.logs().some((l) => l.user === `system:serviceaccount:${NS}:alice-browser` && l.subresource === 'portforward') || undefined, 10_000);
    expect(JSON.stringify(server.logs())).not.toContain(token);
  });
});
