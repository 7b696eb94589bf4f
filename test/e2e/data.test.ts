// What a guest writes to its PVC survives a stop and start of the VM, and the VM's deletion.
import { E2E_UP_TIMEOUT_MS, getJson, guestDiskRoot, kubectl, testNamespace, useE2eCluster, waitFor } from './helpers/cluster.js';
import { claimManifest, diskLines } from './helpers/pvc.js';
import { apply, patchSpec, vmManifest, waitForConsole, waitForVm } from './helpers/vm.js';

let ns: { name: string; drop: () => void };

beforeAll(() => {
  useE2eCluster();
  ns = testNamespace('e2e-data');
}, E2E_UP_TIMEOUT_MS);
afterAll(() => ns?.drop());

it('keeps what the guest wrote to its PVC across a stop and start, and after the VM is deleted', async () => {
  // A blank claim from the default StorageClass: the launcher makes the disk image on it.
  apply(claimManifest(ns.name, 'data'));
  apply(
    vmManifest(ns.name, 'keeper', {
      disks: [
        guestDiskRoot(),
        { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
      ],
    }),
  );
  await waitForVm(ns.name, 'keeper', 'Running');
  const first = await waitForConsole(ns.name, 'keeper', /KUBEVMM-GUEST data-boot disk=data previous=(\S*) id=(\S+)/);
  expect(first[1]).toBe(''); // a new disk
  const firstBoot = first[2]!;

  patchSpec(ns.name, 'keeper', { runStrategy: 'Halted' });
  await waitForVm(ns.name, 'keeper', 'Stopped', { extra: () => !getJson(['-n', ns.name, 'pod', 'keeper-launcher']) });
  patchSpec(ns.name, 'keeper', { runStrategy: 'Always' });
  await waitForVm(ns.name, 'keeper', 'Running');
  // The new launcher pod's console: the guest found the first boot's record on its disk.
  const second = await waitForConsole(ns.name, 'keeper', /KUBEVMM-GUEST data-boot disk=data previous=(\S*) id=(\S+)/);
  expect(second[1]).toBe(firstBoot);
  expect(second[2]).not.toBe(firstBoot);

  kubectl(['-n', ns.name, 'delete', 'virtualmachine', 'keeper', '--wait=true', '--timeout=120s']);
  await waitFor('the launcher pod to be gone', () => !getJson(['-n', ns.name, 'pod', 'keeper-launcher']));
  expect(getJson(['-n', ns.name, 'pvc', 'data'])?.status?.phase).toBe('Bound');
  expect(await diskLines(ns.name, 'data', [0, 1])).toEqual(['KUBEVMM-DATA data written-by-guest', `KUBEVMM-BOOT ${second[2]}`]);
});
