import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_CONFIG } from '../api/schema/config.js';
import type { VirtualMachine } from '../api/schema/vm.js';
import { reconcile, type ControllerDeps, type Store } from './controller.js';
import { Expectations } from './expectations.js';
import type { ClusterApi } from './kube/client.js';
import type { LauncherClient } from './kube/launcher-client.js';
import type { LauncherCredentials } from './kube/launcher-credentials.js';
import { FINALIZER } from './reconcile/types.js';

const created: VirtualMachine = {
  apiVersion: 'kubevmm.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name: 'web', namespace: 'team-a', uid: 'u1', generation: 1, resourceVersion: '10' },
  spec: { memory: { guest: '1Gi' } },
};

function storeOf<T extends { metadata?: { namespace?: string; name?: string } }>(items: () => T[]): Store<T> {
  return { get: (ns, name) => items().find((o) => o.metadata?.namespace === ns && o.metadata?.name === name), list: items };
}

/** A controller over caches the test moves by hand, and an API that records its writes (409 at a stale resourceVersion, as the API server does). */
function harness() {
  const cache = { vm: created, pods: [] as V1Pod[] };
  const server = { vm: created };
  const writes: string[] = [];
  const api = {
    patchVmFinalizers: async (vm: VirtualMachine, finalizers: string[]) => {
      writes.push('patch finalizers');
      if (vm.metadata.resourceVersion !== server.vm.metadata.resourceVersion) throw Object.assign(new Error('Conflict'), { code: 409 });
      server.vm = { ...server.vm, metadata: { ...server.vm.metadata, finalizers, resourceVersion: String(Number(server.vm.metadata.resourceVersion) + 1) } };
      return server.vm;
    },
    applyPod: async (pod: V1Pod) => {
      writes.push('apply pod');
      return pod;
    },
    patchVmStatus: async () => writes.push('patch status'),
    createEvent: async () => undefined,
    getPvc: async () => undefined,
  };
  const deps: ControllerDeps = {
    api: api as unknown as ClusterApi,
    launcher: {} as LauncherClient,
    credentials: { ensure: async () => writes.push('credentials') } as unknown as LauncherCredentials,
    quotaRetryMs: 10_000,
    now: () => new Date('2026-12-06T12:00:00Z'),
    vms: storeOf(() => [cache.vm]),
    classes: storeOf(() => []),
    pods: storeOf(() => cache.pods),
    expectations: new Expectations(),
    finalizers: new Expectations(),
    settings: { config: DEFAULT_CONFIG, crashLoopBaseMs: 10_000, crashLoopMaxMs: 300_000, pollMs: 5_000, startingHoldMs: 5_000 },
    log: () => undefined,
  };
  return { deps, cache, server, writes };
}

test('a rerun before the VM cache shows the operator’s own finalizer writes nothing: no second patch at the old resourceVersion (409), no second pod', async () => {
  const { deps, cache, server, writes } = harness();
  await reconcile(deps, 'team-a/web');
  expect(writes).toEqual(['patch finalizers', 'credentials', 'apply pod']);
  expect(server.vm.metadata.finalizers).toEqual([FINALIZER]);

  // The rerun comes while both caches still hold the VM as created and no pod.
  const rerun = await reconcile(deps, 'team-a/web');
  expect(rerun).toEqual({ requeueAfterMs: 1000, lane: 'high' });
  expect(writes).toHaveLength(3);

  // Once the VM cache shows the finalizer, the expectation is met and the VM goes on.
  cache.vm = server.vm;
  await reconcile(deps, 'team-a/web');
  expect(writes.filter((w) => w === 'patch finalizers')).toHaveLength(1);
  expect(deps.finalizers?.pending('team-a/web')).toBe(false);
});

test('a finalizer removed by someone else after its expectation ran out is added again', async () => {
  let now = 0;
  const { deps, cache, server, writes } = harness();
  deps.finalizers = new Expectations(10_000, () => now);
  deps.expectations = new Expectations(10_000, () => now);
  await reconcile(deps, 'team-a/web');
  cache.vm = { ...server.vm, metadata: { ...server.vm.metadata, finalizers: [] } };
  server.vm = cache.vm;
  now = 10_001;
  await reconcile(deps, 'team-a/web');
  expect(writes.filter((w) => w === 'patch finalizers')).toHaveLength(2);
  expect(server.vm.metadata.finalizers).toEqual([FINALIZER]);
});
