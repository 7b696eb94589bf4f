// The real local control plane (test/cluster) for operator suites. Suites run one at a time
// (--runInBand) and share one control plane: `up` is idempotent and `release` leaves it
// running for the next suite. A missing toolchain or a failed build fails the suite with
// the hint; it never skips.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { applyExports } from '../../../harness/e2e-cluster.js';

const run = promisify(execFile);

/** A first `up` may build Kubernetes from source (see test/cluster/README.md). */
export const CONTROL_PLANE_TIMEOUT_MS = 45 * 60_000;

/** The running control plane. */
export interface ControlPlane {
  kc: KubeConfig;
  /** Runs kubectl against it; rejects with kubectl's stderr. */
  kubectl(...args: string[]): Promise<string>;
  /** Restarts kube-apiserver alone (etcd keeps the state). */
  restartApiserver(): Promise<{ waitedMs: number; restartMs: number }>;
  /** This suite is done with it (it keeps running for the next suite). */
  release(): Promise<void>;
}

/** The control plane with kubevmm's CRDs applied and established. */
export async function useControlPlaneWithCrds(): Promise<ControlPlane> {
  const cp = await useControlPlane();
  await cp.kubectl('apply', '--server-side', '--force-conflicts', '-f', 'crds/');
  await cp.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachines.kubevmm.io');
  return cp;
}

/** Brings the control plane up (or finds it up) and points this process's env at it. */
export async function useControlPlane(): Promise<ControlPlane> {
  const up = spawnSync('bash', ['test/cluster/cluster.sh', 'up'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  if (up.status !== 0) {
    throw new Error(`the local control plane did not start (bash test/cluster/cluster.sh up; its first run builds Kubernetes with Go >= 1.26, see test/cluster/README.md):\n${(up.stderr ?? '').slice(-3000)}`);
  }
  applyExports(up.stdout);
  if (!process.env.KUBECONFIG) throw new Error('test/cluster/cluster.sh up printed no KUBECONFIG');
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG);
  return {
    kc,
    kubectl: async (...args) => (await run('kubectl', args, { env: process.env, maxBuffer: 16 * 1024 * 1024 })).stdout,
    restartApiserver: async () => {
      const started = performance.now();
      await run('bash', ['test/cluster/cluster.sh', 'restart-apiserver'], { env: process.env });
      return { waitedMs: 0, restartMs: performance.now() - started };
    },
    release: async () => undefined,
  };
}
