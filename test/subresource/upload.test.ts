// `kubevmm image upload` end to end on the real control plane: the CLI as a user with their own
// token, the API server's aggregator (RBAC first, then the APIService), the subresource server
// as a process with exactly its declared rights, and a stand-in importer speaking the importer
// contract at a (KWOK-simulated) importer pod's IP with the image's certificate. A file arrives
// whole across a dropped connection, and across a killed CLI run by running it again.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMPORTER_PORT } from '../../api/contract/importer.js';
import { startImporterUpload, type ImporterUpload } from '../../harness/importer-upload.js';
import { serverTls, testAuthority, type LauncherAuthority } from '../../harness/pki.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlaneWithCrds, type ControlPlane } from '../operator/helpers/control-plane.js';
import { createNamespace, getJson, kubectl, waitFor } from '../operator/helpers/operator-process.js';
import { APISERVICE, apply, registerApiService, startServerProcess, tokenKubeconfig, type ServerProcess } from './helpers.js';

type Json = Record<string, any>;

const NS = `upload-${Date.now().toString(36).slice(-5)}`;
const SERVER_ROLE = `${NS}-subresources-server`;
const SERVICE = 'kubevmm-subresources';

let cp: ControlPlane;
let dir: string;
let server: ServerProcess;
let authority: LauncherAuthority;
const importers: ImporterUpload[] = [];
const kubeconfigs: Record<string, string> = {};

/** An image with an upload source, its importer pod (owned by it, Running on KWOK) named in its status, and a stand-in importer at the pod's IP. */
async function uploadImage(name: string): Promise<ImporterUpload> {
  apply({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', metadata: { name, namespace: NS }, spec: { source: { upload: {} }, storage: { size: '1Gi' } } });
  const uid = getJson<Json>(['vmimage', '-n', NS, name])!.metadata.uid as string;
  const pod = `${name}-importer`;
  apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: NS, ownerReferences: [{ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', name, uid, controller: true }] }, spec: { containers: [{ name: 'importer', image: 'kubevmm/launcher:test' }] } });
  const ip = await waitFor(`${pod} Running with an IP`, () => {
    const p = getJson<Json>(['pod', '-n', NS, pod]);
    return p?.status?.phase === 'Running' && (p.status.podIP as string);
  }, 60_000);
  kubectl(['patch', 'vmimage', '-n', NS, name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Pending', importerPod: pod } })]);
  const importer = await startImporterUpload({ tls: await serverTls(authority, { name, namespace: NS, uid }), host: ip, port: IMPORTER_PORT });
  importers.push(importer);
  return importer;
}

/** Runs the CLI as `user`; resolves with its exit code and output. `started` gets the child. */
function cli(user: string, args: string[], started?: (child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args, '-n', NS, '--kubeconfig', kubeconfigs[user]!], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  started?.(child);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

async function file(name: string, bytes: number): Promise<{ path: string; sha: string }> {
  const data = randomBytes(bytes);
  const path = join(dir, name);
  await writeFile(path, data);
  return { path, sha: createHash('sha256').update(data).digest('hex') };
}

beforeAll(async () => {
  cp = await useControlPlaneWithCrds();
  await cp.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachineimages.kubevmm.io');
  createNamespace(NS);
  dir = await mkdtemp(join(tmpdir(), 'upload-'));
  authority = await testAuthority();
  let caPem: string;
  ({ server, servingCaPem: caPem } = await startServerProcess({ kc: cp.kc, namespace: NS, dir, authority, clusterRole: SERVER_ROLE, service: SERVICE }));
  await registerApiService({ namespace: NS, service: SERVICE, server, caPem });
  // alice has what kubevmm-vm-user grants for images; mallory may only read them.
  const role = (name: string, rules: Json[]) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: NS }, rules });
  const bind = (user: string, roleName: string) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `${user}-${roleName}`, namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName }, subjects: [{ kind: 'ServiceAccount', name: user, namespace: NS }] });
  apply(
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'alice', namespace: NS } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'mallory', namespace: NS } },
    role('image-user', [
      { apiGroups: ['kubevmm.io'], resources: ['virtualmachineimages'], verbs: ['get', 'create', 'patch'] },
      { apiGroups: ['subresources.kubevmm.io'], resources: ['virtualmachineimages/upload'], verbs: ['get', 'update'] },
    ]),
    role('image-viewer', [{ apiGroups: ['kubevmm.io'], resources: ['virtualmachineimages'], verbs: ['get'] }]),
    bind('alice', 'image-user'),
    bind('mallory', 'image-viewer'),
  );
  for (const user of ['alice', 'mallory']) {
    kubeconfigs[user] = join(dir, `${user}.kubeconfig`);
    await tokenKubeconfig({ kc: cp.kc, namespace: NS, serviceAccount: user, file: kubeconfigs[user]! });
  }
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  // The APIService first: an unavailable one fails discovery (and namespace deletion) cluster-wide.
  kubectl(['delete', 'apiservice', APISERVICE, '--ignore-not-found'], { allowFail: true });
  await server?.stop();
  await Promise.all(importers.map((i) => i.close()));
  kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFail: true });
  kubectl(['delete', 'clusterrole,clusterrolebinding', SERVER_ROLE, '--ignore-not-found'], { allowFail: true });
  kubectl(['delete', 'rolebinding', '-n', 'kube-system', SERVER_ROLE, '--ignore-not-found'], { allowFail: true });
  if (dir) await rm(dir, { recursive: true, force: true });
  await cp?.release();
});

describe('kubevmm image upload through the API server', () => {
  it('sends the whole file across a dropped connection, with progress, and waits for Ready', async () => {
    const importer = await uploadImage('dropped');
    const { path, sha } = await file('dropped.img', 24 * 2 ** 20 + 123);
    importer.cutAfter = 10 * 2 ** 20;
    // The operator is not running here: the test says Ready once the importer holds the file.
    void waitFor('the whole file at the importer', () => importer.digest(), 120_000).then(() =>
      kubectl(['patch', 'vmimage', '-n', NS, 'dropped', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Ready', progress: '100%', format: 'raw', virtualSize: '24Mi' } })]),
    );
    const r = await cli('alice', ['image', 'upload', 'dropped', '--file', path, '--timeout', '120']);
    expect(r.stderr).toMatch(/retrying in 1 s: /);
    expect(r.stderr).toMatch(/vmimage\/dropped \[#+\] 100% 24\.0 MiB \/ 24\.0 MiB .*\/s ETA 0:00/);
    expect(r.stdout).toContain(`virtualmachineimage.kubevmm.io/dropped uploaded (${24 * 2 ** 20 + 123} bytes)`);
    expect(r.stdout).toContain('virtualmachineimage.kubevmm.io/dropped Ready (raw, 24Mi)');
    expect(r.code).toBe(0);
    expect(importer.digest()).toBe(sha);
    // Only the subresource server's certificate ever reached the importer.
    expect(new Set(importer.calls.map((c) => c.split(' ')[1]))).toEqual(new Set(['kubevmm-subresources']));
    await waitFor('the relay in the log as alice', () => server.logs().some((l) => l.msg === 'upload relayed' && l.user === `system:serviceaccount:${NS}:alice` && l.method === 'PUT') || undefined, 10_000);
  }, 180_000);

  it('resumes from the importer’s offset when the command is run again after it was killed', async () => {
    const importer = await uploadImage('resumed');
    const { path, sha } = await file('resumed.img', 16 * 2 ** 20);
    importer.holdAfter = 3 * 2 ** 20;
    const first = await cli('alice', ['image', 'upload', 'resumed', '--file', path, '--no-wait'], (child) => {
      void waitFor('the first run to stall mid-way', () => importer.offset >= 3 * 2 ** 20, 60_000).then(() => child.kill('SIGKILL'));
    });
    expect(first.code).toBeNull(); // killed
    const held = importer.offset;
    expect(held).toBeGreaterThanOrEqual(3 * 2 ** 20);
    expect(held).toBeLessThan(16 * 2 ** 20);
    importer.holdAfter = undefined;
    const calls = importer.calls.length;
    const second = await cli('alice', ['image', 'upload', 'resumed', '--file', path, '--no-wait']);
    expect(second.code).toBe(0);
    expect(importer.digest()).toBe(sha);
    // The second run asked where the importer was, and sent only the rest.
    expect(importer.calls.slice(calls)[0]).toBe('HEAD kubevmm-subresources');
  }, 180_000);

  it('refuses a user without the upload right before anything reaches the importer, naming the role', async () => {
    const importer = await uploadImage('guarded');
    const { path } = await file('guarded.img', 2 ** 20);
    const r = await cli('mallory', ['image', 'upload', 'guarded', '--file', path, '--no-wait']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/forbidden/i);
    expect(r.stderr).toContain('kubevmm-vm-user');
    expect(importer.calls).toEqual([]);
  }, 60_000);

  it('refuses to upload into an image of another source, and needs --create for a missing one', async () => {
    apply({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', metadata: { name: 'downloaded', namespace: NS }, spec: { source: { http: { url: 'https://images.example/a.qcow2' } } } });
    const { path } = await file('other.img', 2 ** 20);
    const other = await cli('alice', ['image', 'upload', 'downloaded', '--file', path]);
    expect(other.stderr).toContain(`image ${NS}/downloaded has source http, not upload`);
    const missing = await cli('alice', ['image', 'upload', 'nothing', '--file', path]);
    expect(missing.stderr).toContain(`virtualmachineimage "nothing" not found in namespace ${NS}: add --create`);
    expect([other.code, missing.code]).toEqual([1, 1]);
  }, 60_000);
});
