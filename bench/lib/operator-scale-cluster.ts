// The cluster side of bench/operator-scale.ts: $KUBECONFIG, the CRDs, enough KWOK nodes for
// N launcher pods, and one fresh namespace per run.

import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig, type V1Node } from '@kubernetes/client-node';

const run = promisify(execFile);

/** The fake nodes' selector: KWOK manages the nodes annotated so (test/cluster/cluster.sh). */
const FAKE = 'kwok.x-k8s.io/node';
/** Launcher pods per node the bench plans for: below the nodes' 250-pod capacity. */
export const PODS_PER_NODE = 200;

/** API clients for the cluster $KUBECONFIG names. */
export interface Cluster {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** test/cluster's state directory ($KUBECONFIG is `<state>/pki/admin.kubeconfig`), if it is one. */
  stateDir: string | undefined;
  server: string;
}

/** Connects to $KUBECONFIG; throws without one (the bench never picks a cluster by itself). */
export function connect(): Cluster {
  const path = process.env.KUBECONFIG;
  if (!path) throw new Error('set KUBECONFIG (see bench/README.md: run it against its own local control plane)');
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const stateDir = path.endsWith('/pki/admin.kubeconfig') ? dirname(dirname(path)) : undefined;
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi), stateDir, server: kc.getCurrentCluster()?.server ?? '?' };
}

/** kubectl with $KUBECONFIG (test/cluster's `env` puts it on PATH). */
export async function kubectl(...args: string[]): Promise<string> {
  return (await run('kubectl', args, { env: process.env, maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/** Applies crds/ (server-side, as the operator tests do) and waits until they are served. */
export async function applyCrds(repoRoot: string): Promise<void> {
  await kubectl('apply', '--server-side', '--force-conflicts', '-f', `${repoRoot}/crds/`);
  await kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachines.kubevmm.io', 'crd/virtualmachineclasses.kubevmm.io');
}

/** A fake node shaped like cluster.sh's (`fake_node`): KWOK keeps it Ready. */
function fakeNode(name: string): V1Node {
  const resources = { cpu: '32', memory: '128Gi', pods: '250', 'devices.kubevmm.io/kvm': '1000' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [FAKE]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { [FAKE]: 'fake', type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
    },
    // The API server keeps a Node's status on create (it has no status-only create).
    status: { capacity: resources, allocatable: resources },
  };
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

async function fakeNodes(cluster: Cluster): Promise<V1Node[]> {
  return (await cluster.core.listNode({ labelSelector: FAKE })).items;
}

/**
 * Makes sure at least `count` Ready fake nodes exist, creating `bench-scale-<i>` nodes as needed.
 * Returns the names it created (for cleanup) and the total number of fake nodes.
 */
export async function ensureNodes(cluster: Cluster, count: number): Promise<{ created: string[]; total: number }> {
  const existing = new Set((await fakeNodes(cluster)).map((n) => n.metadata?.name ?? ''));
  const created: string[] = [];
  for (let i = 0; existing.size + created.length < count; i++) {
    const name = `bench-scale-${i}`;
    if (existing.has(name)) continue;
    try {
      await cluster.core.createNode({ body: fakeNode(name) });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409)) throw err;
    }
    created.push(name);
  }
  const end = Date.now() + 90_000;
  for (;;) {
    const nodes = await fakeNodes(cluster);
    const ready = nodes.filter(isReady).length;
    if (ready >= count) return { created, total: nodes.length };
    if (Date.now() > end) throw new Error(`only ${ready} of ${count} fake nodes became Ready`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Deletes the nodes ensureNodes created. */
export async function deleteNodes(cluster: Cluster, names: readonly string[]): Promise<void> {
  for (const name of names) await cluster.core.deleteNode({ name }).catch(() => undefined);
}

/** Creates a namespace and waits for its `default` ServiceAccount (pods need it). */
export async function createNamespace(cluster: Cluster, name: string): Promise<void> {
  await cluster.core.createNamespace({ body: { metadata: { name } } });
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      await cluster.core.readNamespacedServiceAccount({ namespace: name, name: 'default' });
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Deletes a namespace and waits until it is gone (its VMs' finalizers need the operator
 * running). Resolves with the milliseconds it took, or NaN after `timeoutMs`.
 */
export async function deleteNamespace(cluster: Cluster, name: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  await cluster.core.deleteNamespace({ name }).catch(() => undefined);
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      await cluster.core.readNamespace({ name });
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return performance.now() - started;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return NaN;
}
