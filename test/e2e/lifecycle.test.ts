// A VM boots through the real node, from each kind of root disk, and follows its spec through
// stop, start, pause and restart: what a user sees with kubectl.
import { buildGuest } from '../../harness/guest.js';
import { claimManifest } from './helpers/pvc.js';
import { E2E_UP_TIMEOUT_MS, guestDiskRoot, localPv, testNamespace, useE2eCluster } from './helpers/cluster.js';
import { apply, condition, consoleLog, launcherPod, patchSpec, vmManifest, waitForConsole, waitForVm, type VmObject } from './helpers/vm.js';

let ns: { name: string; drop: () => void };
const userData = (marker: string) => `#cloud-config\nhostname: ${marker}\n# ${marker} says hello\n`;

beforeAll(() => {
  useE2eCluster();
  ns = testNamespace('e2e-life');
}, E2E_UP_TIMEOUT_MS);
afterAll(() => ns?.drop());

/** What every VM on the node shows once it runs. */
function expectRunningOnRealNode(vm: VmObject): void {
  const pod = launcherPod(ns.name, vm.metadata.name);
  expect(vm.status?.nodeName).toBe('node-real');
  expect(pod?.spec?.nodeName).toBe('node-real');
  expect(vm.status?.interfaces).toEqual([{ name: 'default', ipAddress: pod?.status?.podIP }]);
  expect(pod?.status?.podIP).toMatch(/^10\.88\./);
  expect(vm.status?.accelerator).toBe('tcg');
  expect(condition(vm, 'SoftwareEmulation')).toMatchObject({ status: 'True', reason: 'TCG' });
  expect(condition(vm, 'Ready')).toMatchObject({ status: 'True' });
}

describe('a VM on the real node', () => {
  it('boots from a containerDisk: Running with node, pod IP and TCG, and its console log shows the cloud-init user data', async () => {
    apply(
      vmManifest(ns.name, 'cd', {
        disks: [
          guestDiskRoot(),
          { name: 'cloudinit', cloudInit: { userData: userData('cd-e2e') } },
        ],
      }),
    );
    expectRunningOnRealNode(await waitForVm(ns.name, 'cd', 'Running'));
    await waitForConsole(ns.name, 'cd', /KUBEVMM-GUEST userdata-begin\n#cloud-config\nhostname: cd-e2e\n# cd-e2e says hello\nKUBEVMM-GUEST userdata-end/);
    // The launcher's NoCloud meta-data names the guest after the VM, as KubeVirt does.
    expect(consoleLog(ns.name, 'cd')).toMatch(/KUBEVMM-GUEST cidata hostname=cd\n/);
  });

  it.each(['Filesystem', 'Block'] as const)('boots from a %s PVC holding the guest (a static local PV)', async (mode) => {
    const name = `pvc-${mode.toLowerCase()}`;
    const pv = localPv(`${ns.name}-${name}`, '64Mi', { from: await buildGuest(), block: mode === 'Block' });
    apply(claimManifest(ns.name, name, '64Mi', { name: pv, mode }));
    apply(
      vmManifest(ns.name, name, {
        disks: [
          { name: 'root', persistentVolumeClaim: { claimName: name } },
          { name: 'cloudinit', cloudInit: { userData: userData(name) } },
        ],
      }),
    );
    expectRunningOnRealNode(await waitForVm(ns.name, name, 'Running'));
    await waitForConsole(ns.name, name, new RegExp(`KUBEVMM-GUEST cidata hostname=${name}\n`));
  });

  it('follows its spec: Halted stops it and removes the pod, Always starts it, paused pauses it, restartRequestedAt restarts it', async () => {
    const vm = 'cd';
    patchSpec(ns.name, vm, { runStrategy: 'Halted' });
    await waitForVm(ns.name, vm, 'Stopped', { extra: () => !launcherPod(ns.name, vm) });
    expect(consoleLog(ns.name, vm)).toBe('');

    patchSpec(ns.name, vm, { runStrategy: 'Always' });
    expectRunningOnRealNode(await waitForVm(ns.name, vm, 'Running'));

    patchSpec(ns.name, vm, { paused: true });
    const paused = await waitForVm(ns.name, vm, 'Paused');
    expect(condition(paused, 'Paused')).toMatchObject({ status: 'True' });
    patchSpec(ns.name, vm, { paused: false });
    const resumed = await waitForVm(ns.name, vm, 'Running');
    expect(condition(resumed, 'Paused')).toMatchObject({ status: 'False' });

    const before = resumed.status?.startedAt as string;
    const podBefore = launcherPod(ns.name, vm)?.metadata?.uid;
    patchSpec(ns.name, vm, { restartRequestedAt: new Date().toISOString() });
    const restarted = await waitForVm(ns.name, vm, 'Running', { extra: (v) => v.status?.startedAt !== before && launcherPod(ns.name, vm)?.metadata?.uid !== podBefore });
    expect(Date.parse(restarted.status?.startedAt)).toBeGreaterThan(Date.parse(before));
  });
});
