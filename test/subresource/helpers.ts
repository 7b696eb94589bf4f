// The subresource server as a process against the local control plane, with a ServiceAccount
// holding exactly the rights the server declares (SUBRESOURCE_SERVER_API_CALLS), and the
// control plane's own front-proxy PKI, which its API server uses to call aggregated servers.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { SUBRESOURCE_SERVER_API_CALLS } from '../../subresource/kube.js';
import { getJson, kubectl, waitFor } from '../operator/helpers/operator-process.js';
import { testClient, testServing, type LauncherAuthority } from '../../harness/pki.js';

/** The control plane's PKI directory (cluster.sh prints KUBECONFIG=$PKI/admin.kubeconfig). */
export function clusterPki(file: string): string {
  if (!process.env.KUBECONFIG) throw new Error('KUBECONFIG is not set: bring the control plane up first');
  return readFileSync(join(dirname(process.env.KUBECONFIG), file), 'utf8');
}

/** PEM of a kubeconfig field given inline (base64) or as a file. */
function pem(data: string | undefined, file: string | undefined): string {
  if (data) return Buffer.from(data, 'base64').toString('utf8');
  if (file) return readFileSync(file, 'utf8');
  throw new Error('the kubeconfig has neither data nor a file for a certificate');
}

/** The API server's URL and CA, and the admin's client certificate, from the admin kubeconfig. */
export function adminTls(kc: KubeConfig): { server: string; ca: string; cert: string; key: string } {
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser()!;
  return { server: cluster.server, ca: pem(cluster.caData, cluster.caFile), cert: pem(user.certData, user.certFile), key: pem(user.keyData, user.keyFile) };
}

/** Applies objects (JSON) with kubectl. */
export function apply(...objects: object[]): void {
  kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
}

/** The ServiceAccount `name` in `namespace` with the server's rights: a ClusterRole from the declared calls, and the requestheader reader Role. */
export function serverServiceAccount(namespace: string, name: string, clusterRole: string): void {
  const rules = SUBRESOURCE_SERVER_API_CALLS.filter((c) => !c.only).map((c) => ({ apiGroups: [c.group], resources: [c.resource], verbs: [c.verb] }));
  const subject = { kind: 'ServiceAccount', name, namespace };
  apply(
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: clusterRole }, rules },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: clusterRole }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole }, subjects: [subject] },
    // The one call with a named object: the built-in Role grants exactly it.
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: clusterRole, namespace: 'kube-system' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' }, subjects: [subject] },
  );
}

/** A kubeconfig file for a ServiceAccount's token. */
export async function tokenKubeconfig(opts: { kc: KubeConfig; namespace: string; serviceAccount: string; file: string }): Promise<string> {
  const token = kubectl(['create', 'token', opts.serviceAccount, '-n', opts.namespace, '--duration', '2h']).stdout.trim();
  const { server, ca } = adminTls(opts.kc);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: 'u', user: { token } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'c',
  };
  await writeFile(opts.file, JSON.stringify(config), { mode: 0o600 });
  return token;
}

/** The server process and its JSON log lines. */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** Parsed log lines so far. */
  logs(): Record<string, any>[];
  stop(): Promise<void>;
}

/** Starts `subresource/main.ts` with `args`; resolves once it serves and has read the requestheader settings. */
export async function startServer(args: string[]): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'subresource/main.ts', ...args], { env: { ...process.env, KUBERNETES_SERVICE_HOST: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>);
  const serving = await waitFor(`the subresource server to serve\n${out}`, () => (child.exitCode !== null ? Promise.reject(new Error(`it exited: ${out}`)) : logs().find((l) => l.msg === 'requestheader settings loaded') && logs().find((l) => l.url)), 60_000);
  const url = String(serving.url);
  return {
    child,
    url,
    port: Number(new URL(url).port),
    logs,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The API service the aggregator routes subresources.kubevmm.io to. */
export const APISERVICE = 'v1alpha1.subresources.kubevmm.io';

/**
 * The server process as a suite runs it: a ServiceAccount with the server's declared rights
 * (its ClusterRole named `clusterRole`), its token in a kubeconfig, a serving certificate for
 * the Service `service` and localhost, and a launcher client certificate from `authority`,
 * all as files under `dir`.
 */
export async function startServerProcess(opts: { kc: KubeConfig; namespace: string; dir: string; authority: LauncherAuthority; clusterRole: string; service: string }): Promise<{ server: ServerProcess; servingCaPem: string }> {
  const { dir, namespace } = opts;
  serverServiceAccount(namespace, 'kubevmm-subresources', opts.clusterRole);
  const kubeconfig = join(dir, 'server.kubeconfig');
  await tokenKubeconfig({ kc: opts.kc, namespace, serviceAccount: 'kubevmm-subresources', file: kubeconfig });
  // Serving names: the Service's, which the aggregator checks, and localhost for direct calls.
  const pair = await testServing([`${opts.service}.${namespace}.svc`, 'localhost']);
  const client = await testClient(opts.authority, 'kubevmm-subresources');
  await mkdir(join(dir, 'serving'), { recursive: true });
  await mkdir(join(dir, 'launcher-client'), { recursive: true });
  await Promise.all([
    writeFile(join(dir, 'serving', 'tls.crt'), pair.certPem),
    writeFile(join(dir, 'serving', 'tls.key'), pair.keyPem),
    writeFile(join(dir, 'launcher-client', 'tls.crt'), client.cert),
    writeFile(join(dir, 'launcher-client', 'tls.key'), client.key),
    writeFile(join(dir, 'launcher-client', 'ca.crt'), client.ca),
  ]);
  const server = await startServer(['--port', '0', '--bind-address', '127.0.0.1', '--kubeconfig', kubeconfig, '--tls-cert', join(dir, 'serving', 'tls.crt'), '--tls-key', join(dir, 'serving', 'tls.key'), '--launcher-client-dir', join(dir, 'launcher-client')]);
  return { server, servingCaPem: pair.caPem };
}

/** The APIService pointing at `server` through an ExternalName Service (no kube-proxy here); resolves once Available. */
export async function registerApiService(opts: { namespace: string; service: string; server: ServerProcess; caPem: string }): Promise<void> {
  apply(
    { apiVersion: 'v1', kind: 'Service', metadata: { name: opts.service, namespace: opts.namespace }, spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port: opts.server.port }] } },
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: APISERVICE },
      spec: { group: 'subresources.kubevmm.io', version: 'v1alpha1', groupPriorityMinimum: 1000, versionPriority: 15, service: { namespace: opts.namespace, name: opts.service, port: opts.server.port }, caBundle: Buffer.from(opts.caPem).toString('base64') },
    },
  );
  await waitFor('the APIService Available', () => getJson<Record<string, any>>(['apiservice', APISERVICE])?.status?.conditions?.find((c: Record<string, any>) => c.type === 'Available' && c.status === 'True'), 90_000);
  // Available can come a moment before every API server handler proxies the group (right after
  // an earlier suite removed the same APIService): wait until a request goes through.
  await waitFor('the group proxied to the server', () => kubectl(['get', '--raw', '/apis/subresources.kubevmm.io/v1alpha1'], { allowFail: true }).stdout.includes('virtualmachineimages/upload'), 60_000);
}
