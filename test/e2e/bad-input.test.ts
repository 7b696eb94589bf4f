// What the kubelet and the scheduler refuse shows in the VM's status with their reason and
// message, and deleting such a VM leaves nothing half-created.
import { E2E_UP_TIMEOUT_MS, kubectl, testNamespace, useE2eCluster, waitFor } from './helpers/cluster.js';
import { apply, condition, getVm, leftovers, vmManifest, waitForVm } from './helpers/vm.js';

let ns: { name: string; drop: () => void };

beforeAll(() => {
  useE2eCluster();
  ns = testNamespace('e2e-bad');
}, E2E_UP_TIMEOUT_MS);
afterAll(() => ns?.drop());

async function deleteLeavesNothing(vm: string): Promise<void> {
  kubectl(['-n', ns.name, 'delete', 'virtualmachine', vm, '--wait=true', '--timeout=120s']);
  await waitFor(`nothing of ${vm} left (${leftovers(ns.name, vm).join(', ')})`, () => leftovers(ns.name, vm).length === 0, 60_000);
}

it('a containerDisk image that does not exist: the status names the image and the pull error', async () => {
  const image = 'kubevmm.local/no-such-disk:1';
  apply(vmManifest(ns.name, 'nodisk', { disks: [{ name: 'root', containerDisk: { image } }] }));
  const vm = await waitFor('an image pull status', () => {
    const v = getVm(ns.name, 'nodisk');
    return v && ['ErrImagePull', 'ImagePullBackOff'].includes(v.status?.printableStatus) ? v : undefined;
  }, 120_000);
  const failure = condition(vm, 'Failure');
  expect(failure?.status).toBe('True');
  expect(failure?.reason).toMatch(/^(ErrImagePull|ImagePullBackOff)$/);
  expect(failure?.message).toContain(image);
  expect(failure?.message).toContain('disk root (containerDisk kubevmm.local/no-such-disk:1)');
  expect(vm.status?.nodeName).toBe('node-real');
  await deleteLeavesNothing('nodisk');
});

it('a VM too large for the node: ErrorUnschedulable with the scheduler’s message', async () => {
  apply(vmManifest(ns.name, 'huge', { memory: { guest: '512Gi' }, disks: [{ name: 'scratch', emptyDisk: { capacity: '1Gi' } }] }));
  const vm = await waitForVm(ns.name, 'huge', 'ErrorUnschedulable', { ms: 60_000 });
  expect(condition(vm, 'Failure')).toMatchObject({ status: 'True', reason: 'Unschedulable', message: expect.stringMatching(/Insufficient memory/) });
  await deleteLeavesNothing('huge');
});
