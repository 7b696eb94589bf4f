/**
 * The end-to-end cluster (test/e2e/e2e.sh: a real node with kubevmm installed by its chart) as
 * test/e2e suites and bench/real-node.ts drive it, the `export` lines that both it and
 * test/cluster/cluster.sh print, and namespaces ready for pods.
 */
import { spawnSync } from 'node:child_process';

const E2E = 'test/e2e/e2e.sh';

/** Applies the `export KEY=VALUE` lines a cluster script prints to this process's environment. */
export function applyExports(stdout: string): void {
  for (const line of stdout.split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, key = '', raw = ''] = m;
    process.env[key] = raw.replace(/^"|"$/g, '').replace(/\$PATH/, process.env.PATH ?? '');
  }
}

/** Runs `bash test/e2e/e2e.sh ARGS`; its stdout, or an error naming `what` with the tail of its stderr. */
export function e2eScript(args: readonly string[], what: string): string {
  const r = spawnSync('bash', [E2E, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: process.env });
  if (r.status !== 0) throw new Error(`${what} failed (bash ${E2E} ${args.join(' ')}):\n${(r.stderr ?? '').slice(-4000)}`);
  return r.stdout;
}

/** Brings the cluster up (or finds it up; `up` is idempotent) and points kubectl in this process at it. */
export function useE2eCluster(): void {
  applyExports(e2eScript(['up'], 'the end-to-end cluster (real node, images, helm install)'));
  if (!process.env.KUBECONFIG) throw new Error(`${E2E} up printed no KUBECONFIG`);
}

/** The reference of an image of scripts/images as imported into the node. */
export function e2eImageRef(name: string): string {
  const ref = e2eScript(['image', name], `looking up image ${name}`).trim();
  if (!ref) throw new Error(`no ${name} image was imported (bash ${E2E} up builds it)`);
  return ref;
}

/** kubectl with this process's environment; throws with its stderr when it fails. */
function kubectlOrThrow(args: readonly string[]): void {
  const r = spawnSync('kubectl', args, { encoding: 'utf8', env: process.env });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr ?? ''}`);
}

/**
 * Creates a namespace and waits for its `default` ServiceAccount: the controller-manager makes
 * it a moment later (seconds on a loaded machine), and until then the API server refuses pods
 * there and `kubectl create token default` fails.
 */
export function createNamespace(name: string): void {
  kubectlOrThrow(['create', 'namespace', name]);
  kubectlOrThrow(['wait', '--for=create', '-n', name, 'serviceaccount/default', '--timeout=120s']);
}
