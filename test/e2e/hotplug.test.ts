// Hotplug on the real node: a Filesystem PVC added to a running VM is served by a real
// attachment pod, found through CoreDNS, seen and written by the guest; it survives the
// attachment pod's deletion (reconnect by name) without the VM stopping; removed, it is
// detached with its data on the claim. Deleting the VM leaves nothing behind.
import { E2E_UP_TIMEOUT_MS, getJson, guestDiskRoot, kubectl, testNamespace, useE2eCluster, waitFor } from './helpers/cluster.js';
import { claimManifest, diskLines } from './helpers/pvc.js';
import { apply, getVm, launcherPod, leftovers, patchSpec, runInGuest, vmManifest, waitForConsole, waitForVm } from './helpers/vm.js';

let ns: { name: string; drop: () => void };
const rootDisk = () => (guestDiskRoot());
const hotDisk = { name: 'data-hot', hotpluggable: true, persistentVolumeClaim: { claimName: 'hot' } };

beforeAll(() => {
  useE2eCluster();
  ns = testNamespace('e2e-hot');
}, E2E_UP_TIMEOUT_MS);
afterAll(() => ns?.drop());

const attachmentPod = () => getJson(['-n', ns.name, 'pod', 'web-hotplug-data-hot']);
const diskStatus = () => (getVm(ns.name, 'web')?.status?.disks ?? []).find((d: { name: string }) => d.name === 'data-hot');

describe('disk hotplug on the real node', () => {
  let launcherUid: string;
  let guestDev: string;

  it('attaches a PVC added to a running VM through an attachment pod and CoreDNS; the guest writes to it', async () => {
    apply(vmManifest(ns.name, 'web', { disks: [rootDisk()] }));
    await waitForVm(ns.name, 'web', 'Running');
    launcherUid = launcherPod(ns.name, 'web')!.metadata.uid;
    apply(claimManifest(ns.name, 'hot'));
    patchSpec(ns.name, 'web', { disks: [rootDisk(), hotDisk] });
    const attached = await waitFor('data-hot to be Attached', () => (diskStatus()?.phase === 'Attached' ? diskStatus() : undefined), 180_000);
    const pod = attachmentPod();
    expect(pod?.spec?.nodeName).toBe('node-real');
    expect(pod?.status?.podIP).toMatch(/^10\.88\./);
    const added = await waitForConsole(ns.name, 'web', /KUBEVMM-GUEST disk-added dev=(vd[a-z]) serial=data-hot/);
    guestDev = added[1]!;
    expect(attached.target).toBe(guestDev);
    await waitForConsole(ns.name, 'web', new RegExp(`KUBEVMM-GUEST wrote disk=data-hot dev=${guestDev}`));
  });

  it('survives the attachment pod’s deletion: a new export is found by name and the VM never stops', async () => {
    const old = attachmentPod()!;
    kubectl(['-n', ns.name, 'delete', 'pod', 'web-hotplug-data-hot', '--wait=true']);
    const fresh = await waitFor('a new attachment pod to be ready', () => {
      const pod = attachmentPod();
      return pod && pod.metadata.uid !== old.metadata.uid && pod.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') ? pod : undefined;
    }, 180_000);
    expect(fresh.status.podIP).toBeDefined();
    // The guest writes through the reconnected export: sector 2, then reads it back directly.
    await runInGuest(ns.name, 'web', `printf 'KUBEVMM-AFTER-RECONNECT\\n' | dd of=/dev/${guestDev} bs=512 seek=2 conv=notrunc,fsync 2>/dev/null && dd if=/dev/${guestDev} bs=512 skip=2 count=1 iflag=direct 2>/dev/null | grep -q AFTER-RECONNECT`, 120_000);
    const vm = await waitForVm(ns.name, 'web', 'Running');
    expect(launcherPod(ns.name, 'web')!.metadata.uid).toBe(launcherUid);
    expect(vm.status?.restartCount ?? 0).toBe(0);
    expect(diskStatus()?.phase).toBe('Attached');
  });

  it('detaches a disk removed from the spec; its data stays on the claim', async () => {
    patchSpec(ns.name, 'web', { disks: [rootDisk()] });
    await waitForConsole(ns.name, 'web', new RegExp(`KUBEVMM-GUEST disk-removed dev=${guestDev}`), 120_000);
    await waitFor('the disk to leave status and its attachment pod to go', () => !diskStatus() && !attachmentPod(), 120_000);
    expect(launcherPod(ns.name, 'web')!.metadata.uid).toBe(launcherUid);
    expect(await diskLines(ns.name, 'hot', [0, 2])).toEqual(['KUBEVMM-DATA data-hot written-by-guest', 'KUBEVMM-AFTER-RECONNECT']);
  });

  it('deleting the VM leaves no pod, attachment pod, Service or Secret behind', async () => {
    patchSpec(ns.name, 'web', { disks: [rootDisk(), hotDisk] });
    await waitFor('data-hot to be Attached again', () => diskStatus()?.phase === 'Attached', 180_000);
    kubectl(['-n', ns.name, 'delete', 'virtualmachine', 'web', '--wait=true', '--timeout=180s']);
    await waitFor('everything of the VM to be gone', () => leftovers(ns.name, 'web').length === 0 || undefined, 120_000);
    expect(getJson(['-n', ns.name, 'pvc', 'hot'])?.status?.phase).toBe('Bound');
  });
});
