// Faults on the real node: QEMU killed inside the pod, the launcher pod deleted, the operator
// pod deleted, the kubelet restarted. A VM ends only when its runStrategy says so.
import { E2E_UP_TIMEOUT_MS, getJson, guestDiskRoot, kubectl, restartKubelet, testNamespace, useE2eCluster, waitFor } from './helpers/cluster.js';
import { apply, condition, getVm, launcherPod, patchSpec, vmManifest, waitForVm, type VmObject } from './helpers/vm.js';

let ns: { name: string; drop: () => void };

beforeAll(() => {
  useE2eCluster();
  ns = testNamespace('e2e-fault');
}, E2E_UP_TIMEOUT_MS);
afterAll(() => ns?.drop());

function bootVm(name: string, spec: Record<string, unknown> = {}): Promise<unknown> {
  apply(vmManifest(ns.name, name, { disks: [guestDiskRoot()], ...spec }));
  return waitForVm(ns.name, name, 'Running');
}

/** SIGKILL to QEMU from inside the launcher container, as an OOM kill or a crash would end it. */
function killQemu(vm: string): void {
  kubectl(['-n', ns.name, 'exec', `${vm}-launcher`, '-c', 'launcher', '--', '/usr/lib/kubevmm/busybox', 'killall', '-KILL', 'qemu-system-x86_64']);
}

const podUid = (vm: string) => launcherPod(ns.name, vm)?.metadata?.uid as string | undefined;

/**
 * The VM Running again in a run of its own: a start after `before`'s, in a launcher pod other
 * than `oldPod`. The run is told by status.startedAt, read with the status itself; a pod
 * read next to it is another moment (the old pod can vanish between two reads).
 */
async function runningAgain(vm: string, before: VmObject, oldPod: string | undefined): Promise<VmObject> {
  const again = await waitForVm(ns.name, vm, 'Running', { extra: (v) => !!v.status?.startedAt && v.status.startedAt !== before.status?.startedAt });
  const pod = podUid(vm);
  expect(pod).toBeDefined();
  expect(pod).not.toBe(oldPod);
  return again;
}

describe('faults on the real node', () => {
  it('QEMU killed: runStrategy Always starts the VM again, Once ends it with the reason', async () => {
    await Promise.all([bootVm('always'), bootVm('once', { runStrategy: 'Once' })]);
    const first = getVm(ns.name, 'always')!;
    const alwaysPod = podUid('always');
    killQemu('always');
    killQemu('once');

    const again = await runningAgain('always', first, alwaysPod);
    expect(again.status?.restartCount).toBeGreaterThanOrEqual(1);
    expect(again.status?.lastFailure).toMatchObject({ reason: 'QemuKilled' });

    const ended = await waitForVm(ns.name, 'once', 'Stopped');
    expect(condition(ended, 'Failure')).toMatchObject({ status: 'True', reason: 'QemuKilled', message: expect.stringContaining('SIGKILL') });
    expect(ended.status?.lastFailure).toMatchObject({ reason: 'QemuKilled' });
    // Nothing starts it again behind the user's back.
    await new Promise((r) => setTimeout(r, 15_000));
    expect(getVm(ns.name, 'once')?.status?.printableStatus).toBe('Stopped');
  });

  it('the launcher pod deleted: a new one runs the VM', async () => {
    const before = getVm(ns.name, 'always')!;
    const pod = podUid('always');
    kubectl(['-n', ns.name, 'delete', 'pod', 'always-launcher', '--wait=false']);
    await runningAgain('always', before, pod);
  });

  it('the operator pod deleted: running VMs are untouched and the new operator takes over', async () => {
    const vm = getVm(ns.name, 'always')!;
    const pod = podUid('always');
    const operators = () => (getJson(['-n', 'kubevmm-system', 'pods', '-l', 'app.kubernetes.io/component=operator'])?.items ?? []) as { metadata: { name: string; uid: string } }[];
    const old = operators().map((p) => p.metadata.uid);
    expect(old.length).toBeGreaterThan(0);
    kubectl(['-n', 'kubevmm-system', 'delete', 'pods', '-l', 'app.kubernetes.io/component=operator', '--wait=false']);
    await waitFor('a new operator pod to be ready', () => {
      kubectl(['-n', 'kubevmm-system', 'rollout', 'status', 'deployment/kubevmm', '--timeout=10s'], { allowFail: true });
      const now = operators();
      return now.length > 0 && now.every((p) => !old.includes(p.metadata.uid));
    }, 180_000);
    kubectl(['-n', 'kubevmm-system', 'rollout', 'status', 'deployment/kubevmm', '--timeout=180s']);
    expect(podUid('always')).toBe(pod);
    expect(getVm(ns.name, 'always')?.status?.startedAt).toBe(vm.status?.startedAt);
    // The new operator acts on the VM.
    patchSpec(ns.name, 'always', { paused: true });
    await waitForVm(ns.name, 'always', 'Paused');
    patchSpec(ns.name, 'always', { paused: false });
    await waitForVm(ns.name, 'always', 'Running');
    expect(podUid('always')).toBe(pod);
  });

  it('the kubelet restarted: the VM keeps running in the same pod and container', async () => {
    const pod = launcherPod(ns.name, 'always')!;
    const started = pod.status.containerStatuses.find((c: { name: string }) => c.name === 'launcher').state.running.startedAt;
    restartKubelet();
    await waitForVm(ns.name, 'always', 'Running');
    const after = launcherPod(ns.name, 'always')!;
    expect(after.metadata.uid).toBe(pod.metadata.uid);
    const launcher = after.status.containerStatuses.find((c: { name: string }) => c.name === 'launcher');
    expect(launcher.restartCount).toBe(0);
    expect(launcher.state.running.startedAt).toBe(started);
  });
});
