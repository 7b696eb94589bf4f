// A real operating system through the real node: the Debian guest (systemd, cloud-init,
// qemu-guest-agent) on a local PV. What the guest agent says lands in status.guest; the
// address others reach the VM at stays the pod's (status.interfaces).
import { buildDebianGuest, loginPrompt } from '../../harness/guest.js';
import { claimManifest } from './helpers/pvc.js';
import { E2E_UP_TIMEOUT_MS, localPv, testNamespace, useE2eCluster, waitFor } from './helpers/cluster.js';
import { apply, getVm, launcherPod, vmManifest, waitForConsole, waitForVm } from './helpers/vm.js';

/** ~70 CPU-s of TCG to a login prompt: 50 s on a quiet machine, minutes on a busy one. */
const DEBIAN_BOOT_MS = 480_000;
let ns: { name: string; drop: () => void };

beforeAll(() => {
  useE2eCluster();
  ns = testNamespace('e2e-deb');
}, E2E_UP_TIMEOUT_MS);
afterAll(() => ns?.drop());

it('boots Debian from a PVC: a login prompt in the console log, the guest agent’s view in status.guest', async () => {
  const pv = localPv(`${ns.name}-root`, '2Gi', { from: await buildDebianGuest() });
  apply(claimManifest(ns.name, 'root', '2Gi', { name: pv }));
  const userData = ['#cloud-config', 'hostname: deb-e2e', 'runcmd:', '  - echo "kubevmm-e2e-runcmd $(hostname)"', ''].join('\n');
  apply(
    vmManifest(ns.name, 'deb', {
      memory: { guest: '512Mi' },
      devices: { graphics: 'none', guestAgent: true },
      terminationGracePeriodSeconds: 90,
      disks: [
        { name: 'root', persistentVolumeClaim: { claimName: 'root' } },
        { name: 'cloudinit', cloudInit: { userData } },
      ],
    }),
  );
  await waitForVm(ns.name, 'deb', 'Running', { ms: 120_000 });
  await waitForConsole(ns.name, 'deb', loginPrompt('deb-e2e'), DEBIAN_BOOT_MS);
  // cloud-init's final stage runs the user data's runcmd after the login prompt appears.
  await waitForConsole(ns.name, 'deb', /kubevmm-e2e-runcmd deb-e2e/, 240_000);
  const vm = await waitFor('the guest agent in status.guest', () => {
    const v = getVm(ns.name, 'deb');
    return v?.status?.guest?.agentConnected && v.status.guest.hostname === 'deb-e2e' && v.status.guest.interfaces?.length ? v : undefined;
  }, 240_000);
  expect(vm.status?.guest).toMatchObject({ agentConnected: true, osName: 'Debian GNU/Linux', hostname: 'deb-e2e' });
  expect(vm.status?.guest?.interfaces).toContainEqual(expect.objectContaining({ name: expect.any(String), macAddress: expect.stringMatching(/^52:54:00:/), ipAddresses: expect.arrayContaining(['10.0.2.15']) }));
  // Others reach the VM at its pod's address, not at the guest's user-mode network address.
  expect(vm.status?.interfaces).toEqual([{ name: 'default', ipAddress: launcherPod(ns.name, 'deb')?.status?.podIP }]);
  expect(vm.status?.conditions).toContainEqual(expect.objectContaining({ type: 'AgentConnected', status: 'True' }));
}, DEBIAN_BOOT_MS + 300_000);
