// helm upgrade to a new launcher image with a VM running: the VM keeps running on the old
// launcher, says its launcher is outdated, and runs the new one after its next restart.
import { spawnSync } from 'node:child_process';
import { E2E_UP_TIMEOUT_MS, guestDiskRoot, imageRef, kubectl, retagImage, testNamespace, useE2eCluster } from './helpers/cluster.js';
import { apply, condition, launcherPod, patchSpec, vmManifest, waitForVm } from './helpers/vm.js';

let ns: { name: string; drop: () => void };
let current: string;
const next = () => `${current}-next`;

function helmUpgrade(launcherImage: string): void {
  const r = spawnSync('helm', ['upgrade', 'kubevmm', 'helm/kubevmm', '-n', 'kubevmm-system', '--reuse-values', '--set', `launcherImage=${launcherImage}`, '--wait', '--timeout', '5m'], { encoding: 'utf8', env: process.env });
  if (r.status !== 0) throw new Error(`helm upgrade failed: ${r.stderr}`);
  kubectl(['-n', 'kubevmm-system', 'rollout', 'status', 'deployment/kubevmm', '--timeout=180s']);
}

beforeAll(() => {
  useE2eCluster();
  ns = testNamespace('e2e-upgrade');
  current = imageRef('launcher');
  // The same bits under a new name: what a release upgrade looks like to the node.
  retagImage(current, next());
}, E2E_UP_TIMEOUT_MS);
afterAll(() => {
  helmUpgrade(current);
  ns?.drop();
});

it('keeps the VM running through the upgrade, marks its launcher outdated, and moves it to the new one at its next restart', async () => {
  apply(vmManifest(ns.name, 'steady', { disks: [guestDiskRoot()] }));
  await waitForVm(ns.name, 'steady', 'Running');
  const before = launcherPod(ns.name, 'steady')!;
  expect(before.spec.containers[0].image).toBe(current);

  helmUpgrade(next());
  const outdated = await waitForVm(ns.name, 'steady', 'Running', { extra: (vm) => condition(vm, 'LauncherOutdated')?.status === 'True' });
  expect(condition(outdated, 'LauncherOutdated')?.message).toContain(next());
  expect(condition(outdated, 'RestartRequired')?.status).toBe('False');
  expect(launcherPod(ns.name, 'steady')!.metadata.uid).toBe(before.metadata.uid);

  patchSpec(ns.name, 'steady', { restartRequestedAt: new Date().toISOString() });
  const moved = await waitForVm(ns.name, 'steady', 'Running', { extra: (vm) => launcherPod(ns.name, 'steady')?.metadata?.uid !== before.metadata.uid && condition(vm, 'LauncherOutdated')?.status === 'False' });
  expect(moved.status?.printableStatus).toBe('Running');
  expect(launcherPod(ns.name, 'steady')!.spec.containers[0].image).toBe(next());
});
