// The `kubevmm` command as a user runs it (the package installed with `npm install --global`
// from the current sources, test/cli/helpers/kubevmm.ts), and users of the end-to-end cluster
// other than its admin: ServiceAccounts with a token kubeconfig each, bound to the roles a
// platform team would give them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { installKubevmm, type InstalledKubevmm } from '../../cli/helpers/kubevmm.js';
import { kubectl } from './cluster.js';

let installed: InstalledKubevmm | undefined;

/** Installs the package once per suite; `kubevmm` and `kubectl-vm` are then in {@link binDir}. */
export async function useKubevmm(): Promise<void> {
  installed ??= await installKubevmm();
}

/** Removes the suite's installation. */
export async function dropKubevmm(): Promise<void> {
  await installed?.remove();
  installed = undefined;
}

function bin(): string {
  if (!installed) throw new Error('call useKubevmm() in beforeAll first');
  return installed.bin;
}

/** The directory with the installed `kubevmm` and `kubectl-vm` (put it on PATH for `kubectl vm`). */
export function binDir(): string {
  return dirname(bin());
}

/** What one run printed and its exit code. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kubevmm ARGS` to its end (with the suite's KUBECONFIG unless `kubeconfig` is given). */
export function kubevmm(args: readonly string[], opts: { kubeconfig?: string; input?: string; timeoutMs?: number } = {}): CliResult {
  const env = { ...process.env, ...(opts.kubeconfig ? { KUBECONFIG: opts.kubeconfig } : {}) };
  const r = spawnSync(bin(), [...args], { encoding: 'utf8', env, input: opts.input ?? '', timeout: opts.timeoutMs ?? 600_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Starts `kubevmm ARGS` in the background (port-forward, vnc, a console fed by a pipe). */
export function kubevmmBackground(args: readonly string[], opts: { kubeconfig?: string } = {}): ChildProcess & { output: () => string } {
  const env = { ...process.env, ...(opts.kubeconfig ? { KUBECONFIG: opts.kubeconfig } : {}) };
  const child = spawn(bin(), [...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
  return Object.assign(child, { output: () => out });
}

/**
 * A ServiceAccount `name` in `ns` and a kubeconfig (in `dir`) that authenticates as it with a
 * bearer token, against the same API server and CA as the suite's admin kubeconfig.
 */
export function serviceAccountUser(ns: string, name: string, dir: string): { user: string; kubeconfig: string } {
  kubectl(['-n', ns, 'create', 'serviceaccount', name]);
  const token = kubectl(['-n', ns, 'create', 'token', name, '--duration', '2h']).stdout.trim();
  const admin = JSON.parse(kubectl(['config', 'view', '--raw', '--minify', '-o', 'json']).stdout) as { clusters: { cluster: Record<string, string> }[] };
  const cluster = admin.clusters[0]!.cluster;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: 'e2e', user: name, namespace: ns } }],
    'current-context': name,
  };
  const kubeconfig = join(dir, `${name}.kubeconfig`);
  writeFileSync(kubeconfig, JSON.stringify(config), { mode: 0o600 });
  return { user: `system:serviceaccount:${ns}:${name}`, kubeconfig };
}

/** Binds a ClusterRole to a ServiceAccount in its namespace (a RoleBinding: rights there only). */
export function bindClusterRole(ns: string, serviceAccount: string, clusterRole: string): void {
  kubectl(['-n', ns, 'create', 'rolebinding', `${serviceAccount}-${clusterRole}`, `--clusterrole=${clusterRole}`, `--serviceaccount=${ns}:${serviceAccount}`]);
}
