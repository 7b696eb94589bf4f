// ClusterApi.deletePod against the real API server: a delete decided for one pod does not
// delete a newer pod that has its name by the time the delete arrives (the operator deletes
// launcher pods by name, from a cache that may lag).
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { ClusterApi } from '../../operator/kube/client.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from './helpers/control-plane.js';

const NS = `delete-precondition-${process.pid}`;

let cp: ControlPlane;
let core: CoreV1Api;

beforeAll(async () => {
  cp = await useControlPlane();
  await cp.kubectl('create', 'namespace', NS);
  core = cp.kc.makeApiClient(CoreV1Api);
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  await cp?.kubectl('delete', 'namespace', NS, '--wait=false').catch(() => undefined);
  await cp?.release();
}, 5 * 60_000);

/** A pod no node runs (the control plane has none here): it is deleted at once. */
async function createPod(name: string): Promise<string> {
  const pod: V1Pod = { metadata: { name, namespace: NS }, spec: { containers: [{ name: 'c', image: 'example.invalid/none:1' }] } };
  const created = await core.createNamespacedPod({ namespace: NS, body: pod });
  return created.metadata?.uid ?? '';
}

const uidOf = async (name: string) => (await core.readNamespacedPod({ namespace: NS, name }).catch(() => undefined))?.metadata?.uid;

/** Waits (up to 10 s) until no pod has `name`. */
async function gone(name: string): Promise<void> {
  for (let i = 0; i < 200 && (await uidOf(name)); i++) await new Promise((r) => setTimeout(r, 50));
  expect(await uidOf(name)).toBeUndefined();
}

test('a delete for a pod that was replaced leaves the new pod of that name; the right uid deletes it', async () => {
  const api = new ClusterApi(cp.kc);
  const first = await createPod('vm-launcher');
  await api.deletePod(NS, 'vm-launcher', first);
  await gone('vm-launcher');
  const second = await createPod('vm-launcher');
  expect(second).not.toBe(first);

  // The stale decision: delete the first pod, which is gone; its name is the second's now.
  await expect(api.deletePod(NS, 'vm-launcher', first)).resolves.toBeUndefined();
  expect(await uidOf('vm-launcher')).toBe(second);

  await api.deletePod(NS, 'vm-launcher', second);
  await gone('vm-launcher');
  // Gone is done, with or without a uid.
  await expect(api.deletePod(NS, 'vm-launcher', second)).resolves.toBeUndefined();
  await expect(api.deletePod(NS, 'vm-launcher')).resolves.toBeUndefined();
}, 60_000);
