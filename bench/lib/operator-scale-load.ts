// The load of bench/operator-scale.ts: N small VirtualMachines created through client-node with
// a bounded number in flight, and watches (in the bench process) that time-stamp, per VM,
// when its launcher pod appears, when KWOK makes it Ready and when the VM reports Running.

import { ApiException, type CustomObjectsApi, type KubeConfig, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { VM_LABEL } from '../../api/layout.js';
import { createInformer, type Informer } from '../../operator/kube/informer.js';
import type { Cluster } from './operator-scale-cluster.js';

const GROUP = 'kubevmm.io';
const VERSION = 'v1alpha1';
const PLURAL = 'virtualmachines';

/** The VM every run creates: 1 vCPU, 128Mi, one emptyDisk. */
export function smallVm(namespace: string, name: string): Record<string, unknown> {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'VirtualMachine',
    metadata: { name, namespace },
    spec: { cpu: { cores: 1 }, memory: { guest: '128Mi' }, disks: [{ name: 'scratch', emptyDisk: { capacity: '1Gi' } }] },
  };
}

/** `vm-00042` */
export function vmName(i: number): string {
  return `vm-${String(i).padStart(5, '0')}`;
}

/** One create call, in ms of performance.now(). */
export interface Created {
  name: string;
  sentAt: number;
  /** When the API server's answer arrived: the VM exists from here on. */
  createdAt: number;
  /** Attempts it took (retries after 429/5xx/network errors). */
  attempts: number;
}

/** The create phase's outcome. */
export interface CreatePhase {
  created: Created[];
  /** Names that could not be created after the retries, with the last error. */
  failed: { name: string; error: string }[];
}

const MAX_ATTEMPTS = 5;

function retriable(err: unknown): boolean {
  return !(err instanceof ApiException) || err.code === 429 || err.code >= 500;
}

async function createOne(custom: CustomObjectsApi, namespace: string, name: string): Promise<Created> {
  const sentAt = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, body: smallVm(namespace, name) });
      return { name, sentAt, createdAt: performance.now(), attempts: attempt };
    } catch (err) {
      if (attempt >= MAX_ATTEMPTS || !retriable(err)) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

function describe(err: unknown): string {
  return err instanceof ApiException ? `${err.code}: ${String(err.body).slice(0, 200)}` : String(err);
}

/** Creates `count` VMs with at most `concurrency` requests in flight. */
export async function createVms(cluster: Cluster, opts: { namespace: string; count: number; concurrency: number }): Promise<CreatePhase> {
  const phase: CreatePhase = { created: [], failed: [] };
  let next = 0;
  const worker = async () => {
    while (next < opts.count) {
      const name = vmName(next++);
      try {
        phase.created.push(await createOne(cluster.custom, opts.namespace, name));
      } catch (err) {
        phase.failed.push({ name, error: describe(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.count) }, worker));
  return phase;
}

/** Per VM, when the bench saw each milestone (performance.now() ms). */
export interface Milestones {
  podAdded: Map<string, number>;
  podReady: Map<string, number>;
  vmRunning: Map<string, number>;
}

/** Watches of one namespace's launcher pods and VMs, stamping milestones as events arrive. */
export interface Tracker {
  readonly seen: Milestones;
  /** Resolves true once `done()` holds, false after `timeoutMs`. */
  waitFor(done: () => boolean, timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function stampOnce(map: Map<string, number>, name: string | undefined): void {
  if (name && !map.has(name)) map.set(name, performance.now());
}

function podInformer(kc: KubeConfig, cluster: Cluster, namespace: string, seen: Milestones): Informer<V1Pod> {
  return createInformer<V1Pod>({
    kc,
    path: `/api/v1/namespaces/${namespace}/pods`,
    labelSelector: VM_LABEL,
    list: () => cluster.core.listNamespacedPod({ namespace, labelSelector: VM_LABEL }),
    onEvent: (type, pod) => {
      if (type === 'DELETED') return;
      const vm = pod.metadata?.labels?.[VM_LABEL];
      stampOnce(seen.podAdded, vm);
      if (podReady(pod)) stampOnce(seen.podReady, vm);
    },
  });
}

function vmInformer(kc: KubeConfig, cluster: Cluster, namespace: string, seen: Milestones): Informer<KubernetesObject> {
  return createInformer<KubernetesObject>({
    kc,
    path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
    list: () => cluster.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL }) as Promise<{ items: KubernetesObject[] }>,
    onEvent: (type, vm) => {
      const status = (vm as { status?: { printableStatus?: string } }).status?.printableStatus;
      if (type !== 'DELETED' && status === 'Running') stampOnce(seen.vmRunning, vm.metadata?.name);
    },
  });
}

/** Starts watching `namespace` (before any VM is created, so no ADDED event is missed). */
export async function trackNamespace(cluster: Cluster, namespace: string): Promise<Tracker> {
  const seen: Milestones = { podAdded: new Map(), podReady: new Map(), vmRunning: new Map() };
  const informers = [podInformer(cluster.kc, cluster, namespace, seen), vmInformer(cluster.kc, cluster, namespace, seen)];
  await Promise.all(informers.map((i) => i.start()));
  return {
    seen,
    async waitFor(done, timeoutMs) {
      const end = performance.now() + timeoutMs;
      while (!done()) {
        if (performance.now() > end) return false;
        await new Promise((r) => setTimeout(r, 100));
      }
      return true;
    },
    async stop() {
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
