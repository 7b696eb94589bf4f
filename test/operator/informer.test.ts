// The supervised informer against the real control plane: VirtualMachine events through the
// CRD, and recovery when the apiserver restarts under a running watch.

import { CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { createInformer, type Informer, type InformerEventType, type RestartReason } from '../../operator/kube/informer.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from './helpers/control-plane.js';
import { eventually } from '../fakes/http-api.js';

const GROUP = 'kubevmm.io';
const VERSION = 'v1alpha1';
const PLURAL = 'virtualmachines';
const NS = `informer-${process.pid}`;

let cp: ControlPlane;
let api: CustomObjectsApi;

beforeAll(async () => {
  cp = await useControlPlane();
  await cp.kubectl('apply', '--server-side', '--force-conflicts', '-f', 'crds/');
  await cp.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachines.kubevmm.io');
  await cp.kubectl('create', 'namespace', NS);
  api = cp.kc.makeApiClient(CustomObjectsApi);
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  await cp?.kubectl('delete', 'namespace', NS, '--wait=false').catch(() => undefined);
  await cp?.release();
}, 5 * 60_000);

/** A minimal valid VirtualMachine (examples/minimal.yaml). */
function vm(name: string): KubernetesObject & { spec: object } {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'VirtualMachine',
    metadata: { name, namespace: NS },
    spec: { memory: { guest: '512Mi' }, disks: [{ name: 'root', persistentVolumeClaim: { claimName: `${name}-root` } }] },
  };
}

async function createVm(name: string): Promise<void> {
  await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: PLURAL, body: vm(name) });
}

interface Started {
  informer: Informer<KubernetesObject>;
  events: string[];
  /** When each event arrived (performance.now()). */
  at: Map<string, number>;
  restarts: RestartReason[];
  errors: unknown[];
}

let running: Started | undefined;

afterEach(async () => {
  await running?.informer.stop();
  running = undefined;
});

async function startInformer(): Promise<Started> {
  const s: Started = { events: [], at: new Map(), restarts: [], errors: [], informer: undefined as unknown as Informer<KubernetesObject> };
  s.informer = createInformer<KubernetesObject>({
    kc: cp.kc,
    path: `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURAL}`,
    list: () => api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: PLURAL }),
    onEvent: (type: InformerEventType, obj) => {
      const event = `${type} ${obj.metadata?.name}`;
      s.events.push(event);
      s.at.set(event, performance.now());
    },
    onRestart: (reason) => s.restarts.push(reason),
    onError: (err) => s.errors.push(err),
  });
  running = s;
  await s.informer.start();
  return s;
}

const eventuallyWithin = (check: () => void, timeoutMs = 15_000) => eventually(check, timeoutMs, 25);

test('lists existing VirtualMachines, then sees them created, modified and deleted', async () => {
  await createVm('before');
  const s = await startInformer();
  expect(s.informer.synced).toBe(true);
  expect(s.events).toEqual(['ADDED before']);
  expect(s.informer.get(NS, 'before')).toMatchObject({ spec: { memory: { guest: '512Mi' } } });

  await createVm('web');
  await eventuallyWithin(() => expect(s.events).toContain('ADDED web'));
  await cp.kubectl('-n', NS, 'patch', 'virtualmachine', 'web', '--type=merge', '-p', '{"spec":{"runStrategy":"Halted"}}');
  await eventuallyWithin(() => expect(s.events).toContain('MODIFIED web'));
  expect(s.informer.get(NS, 'web')).toMatchObject({ spec: { runStrategy: 'Halted' } });
  await cp.kubectl('-n', NS, 'delete', 'virtualmachine', 'web', 'before');
  await eventuallyWithin(() => expect(s.events).toEqual(expect.arrayContaining(['DELETED web', 'DELETED before'])));
  expect(s.informer.list()).toEqual([]);
  expect(s.events.filter((e) => e.endsWith(' web'))).toEqual(['ADDED web', 'MODIFIED web', 'DELETED web']);
  expect(s.informer.restarts).toBe(0);
  expect(s.errors).toEqual([]);
}, 60_000);

test('recovers when the apiserver restarts and sees objects created after it', async () => {
  const s = await startInformer();
  await createVm('pre-restart');
  await eventuallyWithin(() => expect(s.events).toEqual(['ADDED pre-restart']));

  const { restartMs } = await cp.restartApiserver();
  const apiserverBack = performance.now();
  await createVm('post-restart');
  const created = performance.now();
  await eventuallyWithin(() => expect(s.events).toContain('ADDED post-restart'), 60_000);
  const seen = s.at.get('ADDED post-restart') ?? NaN;

  const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  console.log(
    `apiserver restart took ${seconds(restartMs)}; an object created ` +
      `${seconds(created - apiserverBack)} after the apiserver was ready reached the informer ` +
      `${seconds(seen - created)} after its creation (${seconds(seen - apiserverBack)} after ready); ` +
      `restarts: ${s.restarts.join(', ')}`,
  );
  expect(s.restarts.length).toBeGreaterThanOrEqual(1);
  expect(seen - created).toBeLessThan(10_000);
  expect(s.informer.get(NS, 'post-restart')).toBeDefined();
  expect(s.informer.get(NS, 'pre-restart')).toBeDefined();
  // Still live after the recovery, not a one-off.
  await cp.kubectl('-n', NS, 'delete', 'virtualmachine', 'pre-restart');
  await eventuallyWithin(() => expect(s.events).toContain('DELETED pre-restart'));
}, 5 * 60_000);
