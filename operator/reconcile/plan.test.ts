import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import type { VirtualMachine, VmStatus } from '../../api/schema/vm.js';
import { renderLauncherPod } from '../render/pod.js';
import { crashLoopDelayMs } from './lifecycle.js';
import { planReconcile } from './plan.js';
import { FINALIZER, type LauncherStatus, type Observed, type ReconcileSettings } from './types.js';

const now = new Date('2026-11-26T12:00:00Z');
const settings: ReconcileSettings = { config: DEFAULT_CONFIG, crashLoopBaseMs: 10_000, crashLoopMaxMs: 300_000, pollMs: 5_000 };
const at = (seconds: number) => new Date(now.getTime() + seconds * 1000).toISOString();

function vm(spec: Partial<VirtualMachine['spec']> = {}, status: VmStatus = {}, meta: Partial<VirtualMachine['metadata']> = {}): VirtualMachine {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'web-1', namespace: 'team-a', uid: 'u1', generation: 2, finalizers: [FINALIZER], ...meta },
    spec: { memory: { guest: '1Gi' }, disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'root' } }], ...spec },
    status,
  };
}

function pod(v: VirtualMachine, status: V1Pod['status'], extra: { deleting?: boolean; node?: string } = {}): V1Pod {
  const p = renderLauncherPod({ vm: v, config: DEFAULT_CONFIG });
  return {
    ...p,
    metadata: { ...p.metadata, ...(extra.deleting ? { deletionTimestamp: new Date(now) } : {}) },
    spec: { ...p.spec!, ...(extra.node ? { nodeName: extra.node } : {}) },
    status,
  };
}
const running = (ready = true): V1Pod['status'] => ({ phase: 'Running', podIP: '10.244.0.7', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] });
const failed = (message = 'QemuKilled: qemu exited on signal SIGKILL'): V1Pod['status'] => ({
  phase: 'Failed',
  containerStatuses: [{ name: 'launcher', image: 'l', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, message } } }],
});

function observe(v: VirtualMachine, extra: Partial<Observed> = {}): Observed {
  return { vm: v, missingPvcs: [], pvcs: {}, now, ...extra };
}
const kinds = (o: Observed) => planReconcile(o, settings).actions.map((a) => a.kind);
const printable = (o: Observed) => planReconcile(o, settings).status.printableStatus;

describe('planReconcile: starting', () => {
  it('adds the finalizer before creating anything', () => {
    expect(kinds(observe(vm({}, {}, { finalizers: [] })))).toEqual(['addFinalizer', 'createPod']);
  });

  it('creates the rendered launcher pod and reports Starting with the spec’s size', () => {
    const plan = planReconcile(observe(vm({ cpu: { cores: 2 } })), settings);
    const create = plan.actions.find((a) => a.kind === 'createPod');
    expect(create?.kind === 'createPod' && create.pod.metadata?.name).toBe('web-1-launcher');
    expect(plan.status).toMatchObject({ printableStatus: 'Starting', startedAt: now.toISOString(), cpus: 2, memory: '1Gi', launcherPod: 'web-1-launcher', observedGeneration: 2 });
    expect(plan.events).toEqual([{ type: 'Normal', reason: 'Starting', message: 'VM is Starting' }]);
  });

  it('starts nothing while a pod it does not own has the launcher name, and says so', () => {
    const message = 'pod team-a/web-1-launcher exists but kubevmm did not create it for this VirtualMachine';
    const plan = planReconcile(observe(vm({}, {}, { finalizers: [] }), { foreignPod: message }), settings);
    expect(plan.actions.map((a) => a.kind)).toEqual(['addFinalizer']);
    expect(plan.status.printableStatus).toBe('Stopped');
    expect(plan.status.conditions?.find((c) => c.type === 'Failure')).toMatchObject({ status: 'True', reason: 'LauncherPodConflict', message });
    expect(plan.requeueAfterMs).toBe(settings.pollMs);
  });

  it('does not start on a claim another VM has: ErrorPvcInUse naming it, and looks again', () => {
    const plan = planReconcile(observe(vm(), { claimConflicts: [{ claim: 'root', holder: 'db', running: true }] }), settings);
    expect(plan.actions.map((a) => a.kind)).toEqual([]);
    expect(plan.status.printableStatus).toBe('ErrorPvcInUse');
    expect(plan.status.conditions?.find((c) => c.type === 'Failure')).toMatchObject({ reason: 'PvcInUse', message: expect.stringMatching(/^PersistentVolumeClaim root is in read-write use by VirtualMachine db/) });
    expect(plan.requeueAfterMs).toBe(5_000);
  });

  it('waits for missing PVCs with ErrorPvcNotFound and looks again', () => {
    const plan = planReconcile(observe(vm(), { missingPvcs: ['root'] }), settings);
    expect(plan.actions).toEqual([]);
    expect(plan.status.printableStatus).toBe('ErrorPvcNotFound');
    expect(plan.status.conditions?.find((c) => c.type === 'Failure')?.message).toMatch(/PersistentVolumeClaim root not found in namespace team-a/);
    expect(plan.requeueAfterMs).toBe(5_000);
  });

  it.each([
    ['Always', {}, ['createPod']],
    ['RerunOnFailure', {}, ['createPod']],
    ['Once', {}, ['createPod']],
    ['Once', { startedAt: at(-60) }, []],
    ['Manual', {}, []],
    ['Manual', { startedAt: at(-60) }, []],
    ['Halted', {}, []],
  ] as const)('runStrategy %s with status %j and no pod -> %j', (runStrategy, status, actions) => {
    expect(kinds(observe(vm({ runStrategy }, status)))).toEqual(actions);
  });

  it('clears node and address once the launcher is gone', () => {
    const stopped = planReconcile(observe(vm({ runStrategy: 'Halted' }, { printableStatus: 'Stopping', nodeName: 'node-a', interfaces: [{ name: 'default', ipAddress: '10.0.0.7' }] })), settings);
    expect(stopped.status.printableStatus).toBe('Stopped');
    expect(stopped.status.nodeName).toBeUndefined();
    expect(stopped.status.interfaces).toBeUndefined();
  });

  it('starts a Manual VM when restartRequestedAt is newer than the last start', () => {
    expect(kinds(observe(vm({ runStrategy: 'Manual', restartRequestedAt: at(-10) }, { startedAt: at(-60) })))).toEqual(['createPod']);
  });
});

describe('planReconcile: restartRequestedAt restarts once', () => {
  const future = at(3600);
  const honoured = (p: V1Pod | undefined) => p?.metadata?.annotations?.['kubevmm.io/restart-requested-at'];

  it('a time in the future restarts a running VM once, is recorded, and then leaves the new launcher alone', () => {
    const v = vm({ restartRequestedAt: future }, { startedAt: at(-30), lastRestartRequestedAt: at(-7200) });
    expect(planReconcile(observe(v, { pod: pod(v, running(), { node: 'n' }) }), settings).actions).toEqual([{ kind: 'deletePod', reason: 'restart' }]);
    // the old launcher is gone: the new one records the request it honours, in status and on the pod
    const start = planReconcile(observe(v), settings);
    const create = start.actions.find((a) => a.kind === 'createPod');
    expect(start.status.lastRestartRequestedAt).toBe(future);
    expect(create?.kind === 'createPod' && honoured(create.pod)).toBe(future);
    const after = vm({ restartRequestedAt: future }, start.status);
    const newPod = create?.kind === 'createPod' ? { ...create.pod, spec: { ...create.pod.spec!, nodeName: 'n' }, status: running() } : undefined;
    expect(planReconcile(observe(after, { pod: newPod }), settings).actions).toEqual([]);
    // an hour later (the time it names has come) still nothing
    expect(planReconcile({ ...observe(after, { pod: newPod }), now: new Date(now.getTime() + 7200_000) }, settings).actions).toEqual([]);
  });

  it('the pod’s annotation stands in for a status write that was lost, and repairs it', () => {
    const v = vm({ restartRequestedAt: future }, { startedAt: at(-30), lastRestartRequestedAt: at(-7200) });
    const p = pod(v, running(), { node: 'n' });
    const annotated = { ...p, metadata: { ...p.metadata, annotations: { ...p.metadata?.annotations, 'kubevmm.io/restart-requested-at': future } } };
    const plan = planReconcile(observe(v, { pod: annotated }), settings);
    expect(plan.actions).toEqual([]);
    expect(plan.status.lastRestartRequestedAt).toBe(future);
  });

  it('a new value restarts again; the same value does not', () => {
    const v = (value: string) => vm({ restartRequestedAt: value }, { startedAt: at(-30), lastRestartRequestedAt: future });
    expect(planReconcile(observe(v(future), { pod: pod(v(future), running(), { node: 'n' }) }), settings).actions).toEqual([]);
    expect(planReconcile(observe(v(at(-1)), { pod: pod(v(at(-1)), running(), { node: 'n' }) }), settings).actions).toEqual([{ kind: 'deletePod', reason: 'restart' }]);
  });

  it('starts a Manual VM once per request', () => {
    const v = vm({ runStrategy: 'Manual', restartRequestedAt: future }, { startedAt: at(-60), lastRestartRequestedAt: at(-100) });
    const start = planReconcile(observe(v), settings);
    expect(start.actions.map((a) => a.kind)).toEqual(['createPod']);
    const ended = vm({ runStrategy: 'Manual', restartRequestedAt: future }, start.status);
    expect(kinds(observe(ended))).toEqual([]);
  });
});

describe('planReconcile: running', () => {
  it('reports Running with node and IP once the pod is Ready', () => {
    const v = vm({}, { startedAt: at(-30) });
    const plan = planReconcile(observe(v, { pod: pod(v, running(), { node: 'node-a' }) }), settings);
    expect(plan.actions).toEqual([]);
    expect(plan.status).toMatchObject({ printableStatus: 'Running', nodeName: 'node-a', interfaces: [{ name: 'default', ipAddress: '10.244.0.7' }], accelerator: 'kvm' });
    expect(plan.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('reports Starting while the pod runs but is not Ready, and ErrorUnschedulable when it cannot be placed', () => {
    const v = vm({}, { startedAt: at(-30) });
    expect(printable(observe(v, { pod: pod(v, running(false), { node: 'node-a' }) }))).toBe('Starting');
    const unschedulable = pod(v, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available: 2 Insufficient devices.kubevmm.io/kvm.' }] });
    const plan = planReconcile(observe(v, { pod: unschedulable }), settings);
    expect(plan.status.printableStatus).toBe('ErrorUnschedulable');
    expect(plan.events[0]).toEqual({ type: 'Warning', reason: 'ErrorUnschedulable', message: 'Unschedulable: 0/2 nodes are available: 2 Insufficient devices.kubevmm.io/kvm.' });
  });

  it('reports Running as soon as the launcher says its guest runs, before the readiness probe marks the pod Ready', () => {
    const v = vm({}, { startedAt: at(-1), printableStatus: 'Starting' });
    const report = (state: LauncherStatus['state']): LauncherStatus => ({ state, accelerator: 'tcg', startedAt: at(-1), disks: [] });
    const notReady = pod(v, running(false), { node: 'node-a' });
    expect(printable(observe(v, { pod: notReady, launcher: report('starting') }))).toBe('Starting');
    const plan = planReconcile(observe(v, { pod: notReady, launcher: report('running') }), settings);
    expect(plan.status.printableStatus).toBe('Running');
    expect(plan.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('believes a launcher that answers at the pod’s IP while the pod’s phase still says Pending', () => {
    const v = vm({}, { startedAt: at(-1), printableStatus: 'Starting' });
    const pending = pod(v, { phase: 'Pending', podIP: '10.244.0.7' }, { node: 'node-a' });
    expect(printable(observe(v, { pod: pending }))).toBe('Starting');
    const plan = planReconcile(observe(v, { pod: pending, launcher: { state: 'running', accelerator: 'tcg', startedAt: at(-1), disks: [] } }), settings);
    expect(plan.status).toMatchObject({ printableStatus: 'Running', nodeName: 'node-a', interfaces: [{ name: 'default', ipAddress: '10.244.0.7' }] });
  });

  it('pauses and resumes through the launcher to follow spec.paused', () => {
    const report = (state: LauncherStatus['state'], reason?: string): LauncherStatus => ({ state, accelerator: 'tcg', startedAt: '2026-01-01T00:00:00Z', disks: [], ...(reason ? { reason } : {}) });
    const v = (paused: boolean) => vm({ paused }, { startedAt: at(-30) });
    const p = (x: VirtualMachine) => pod(x, running(), { node: 'node-a' });
    expect(kinds(observe(v(true), { pod: p(v(true)), launcher: report('running') }))).toEqual(['pause']);
    expect(kinds(observe(v(false), { pod: p(v(false)), launcher: report('paused') }))).toEqual(['resume']);
    expect(kinds(observe(v(false), { pod: p(v(false)), launcher: report('paused', 'IoError') }))).toEqual([]);
    const plan = planReconcile(observe(v(true), { pod: p(v(true)), launcher: report('paused') }), settings);
    expect(plan.status.printableStatus).toBe('Paused');
    expect(plan.status.accelerator).toBe('tcg');
    expect(plan.status.conditions?.find((c) => c.type === 'SoftwareEmulation')?.status).toBe('True');
  });

  it('stops a running VM that is Halted, and restarts one whose restart was requested', () => {
    const halted = vm({ runStrategy: 'Halted' }, { startedAt: at(-30) });
    expect(planReconcile(observe(halted, { pod: pod(halted, running(), { node: 'n' }) }), settings)).toMatchObject({ actions: [{ kind: 'deletePod', reason: 'halted' }], status: { printableStatus: 'Stopping' } });
    const restart = vm({ restartRequestedAt: at(-5) }, { startedAt: at(-30) });
    expect(planReconcile(observe(restart, { pod: pod(restart, running(), { node: 'n' }) }), settings).actions).toEqual([{ kind: 'deletePod', reason: 'restart' }]);
  });

  it('sets RestartRequired when the spec changed under a running pod, and leaves the pod alone', () => {
    const old = vm({}, { startedAt: at(-30) });
    const changed = vm({ cpu: { cores: 4 } }, { startedAt: at(-30) });
    const plan = planReconcile(observe(changed, { pod: pod(old, running(), { node: 'n' }) }), settings);
    expect(plan.actions).toEqual([]);
    expect(plan.status.conditions?.find((c) => c.type === 'RestartRequired')).toMatchObject({ status: 'True', reason: 'SpecChanged' });
    const live = vm({ paused: false, runStrategy: 'Always' }, { startedAt: at(-30) });
    expect(planReconcile(observe(live, { pod: pod(old, running(), { node: 'n' }) }), settings).status.conditions?.find((c) => c.type === 'RestartRequired')?.status).toBe('False');
  });
});

describe('planReconcile: hotplug while the guest is paused', () => {
  it('a guest paused by an I/O error (its pod no longer Ready) gets its lost export back instead of losing the rest', () => {
    const disks = [{ name: 'root', persistentVolumeClaim: { claimName: 'root' } }, { name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'data' } }];
    const v = vm({ disks }, { printableStatus: 'Running', startedAt: at(-600), disks: [{ name: 'data', phase: 'Attached', target: 'vdb' }] });
    const launcher: LauncherStatus = { state: 'paused', reason: 'IoError', accelerator: 'tcg', startedAt: at(-600), disks: [{ name: 'root', phase: 'Attached', target: 'vda' }, { name: 'data', phase: 'Attached', target: 'vdb' }] };
    const hotplug = { attachments: {}, pvcs: { data: { mode: 'Filesystem' as const, sizeBytes: 2 ** 30 } }, conflicts: {} };
    const plan = planReconcile(observe(v, { pod: pod(v, running(false), { node: 'node-a' }), launcher, hotplug }), settings);
    expect(plan.actions.map((a) => a.kind)).toEqual(['createAttachment']);
    expect(plan.status.printableStatus).toBe('Paused');
    expect(plan.status.disks).toEqual([expect.objectContaining({ name: 'data', phase: 'Attached' })]);
  });
});

describe('planReconcile: the guest agent', () => {
  const report = (guest?: LauncherStatus['guest']): LauncherStatus => ({ state: 'running', accelerator: 'tcg', startedAt: at(-60), disks: [], ...(guest ? { guest } : {}) });
  it.each([
    ['the agent answers', {}, { agentConnected: true, hostname: 'web-1', osName: 'Debian GNU/Linux' }, 'True', 'AgentConnected'],
    ['no agent answers yet', {}, { agentConnected: false }, 'False', 'AgentNotConnected'],
    ['the VM has no agent channel', { devices: { guestAgent: false } }, undefined, 'False', 'NoAgentChannel'],
  ] as const)('%s: AgentConnected %s, and status.guest carries what it said', (_what, spec, guest, status, reason) => {
    const v = vm(spec, { printableStatus: 'Running', startedAt: at(-60) });
    const plan = planReconcile(observe(v, { pod: pod(v, running(), { node: 'node-a' }), launcher: report(guest) }), settings);
    expect(plan.status.conditions).toContainEqual(expect.objectContaining({ type: 'AgentConnected', status, reason }));
    if (guest) expect(plan.status.guest).toEqual(guest);
  });

  it('a quick start says no agent yet, so the launcher’s first report changes nothing (one status write)', () => {
    const v = vm({}, { printableStatus: 'Starting', startedAt: at(-2) });
    const first = planReconcile(observe(v, { pod: pod(v, running(), { node: 'node-a' }) }), settings);
    expect(first.status.conditions).toContainEqual(expect.objectContaining({ type: 'AgentConnected', status: 'False', reason: 'AgentNotConnected' }));
    expect(first.status.guest).toEqual({ agentConnected: false });
    const again = vm({}, first.status);
    const second = planReconcile(observe(again, { pod: pod(again, running(), { node: 'node-a' }), launcher: { ...report({ agentConnected: false }), accelerator: 'kvm' } }), settings);
    expect(first.status.accelerator).toBe('kvm');
    expect(second.status).toEqual(first.status);
  });

  it('a launcher that stops answering leaves what its agent last said', () => {
    const guest = { agentConnected: true, hostname: 'web-1' };
    const v = vm({}, { printableStatus: 'Running', startedAt: at(-60) });
    const seen = planReconcile(observe(v, { pod: pod(v, running(), { node: 'node-a' }), launcher: report(guest) }), settings).status;
    const silent = vm({}, seen);
    const plan = planReconcile(observe(silent, { pod: pod(silent, running(), { node: 'node-a' }) }), settings);
    expect(plan.status.guest).toEqual(guest);
    expect(plan.status.conditions).toContainEqual(expect.objectContaining({ type: 'AgentConnected', status: 'True' }));
  });
});

describe('planReconcile: upgrades', () => {
  it('an operator with a new launcher image marks running VMs outdated, restarts none, and starts new ones on it', () => {
    const v = vm({}, { printableStatus: 'Running', startedAt: at(-600) });
    const upgraded = { ...settings, config: { ...DEFAULT_CONFIG, launcherImage: 'kubevmm/launcher:0.2.0' } };
    const plan = planReconcile(observe(v, { pod: pod(v, running(), { node: 'node-a' }) }), upgraded);
    expect(plan.actions).toEqual([]);
    expect(plan.status.printableStatus).toBe('Running');
    expect(plan.status.conditions).toContainEqual(expect.objectContaining({ type: 'LauncherOutdated', status: 'True', reason: 'NewLauncherImage' }));
    expect(plan.status.conditions).toContainEqual(expect.objectContaining({ type: 'RestartRequired', status: 'False' }));
    const restart = planReconcile(observe(vm({}, { startedAt: at(-600) })), upgraded).actions.find((a) => a.kind === 'createPod');
    expect(restart?.kind === 'createPod' && restart.pod.spec?.containers[0]?.image).toBe('kubevmm/launcher:0.2.0');
  });

  it('a launcher on the operator’s image is up to date', () => {
    const v = vm({}, { printableStatus: 'Running', startedAt: at(-600) });
    const plan = planReconcile(observe(v, { pod: pod(v, running(), { node: 'node-a' }) }), settings);
    expect(plan.status.conditions).toContainEqual(expect.objectContaining({ type: 'LauncherOutdated', status: 'False', reason: 'UpToDate' }));
  });
});

describe('planReconcile: what the kubelet reports', () => {
  const waiting = (name: string, reason: string, message: string, init = true): V1Pod['status'] => ({
    phase: 'Pending',
    [init ? 'initContainerStatuses' : 'containerStatuses']: [{ name, image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message } } }],
  });
  const withDisk = () => vm({ disks: [{ name: 'os', containerDisk: { image: 'registry.invalid/os:1' } }] }, { printableStatus: 'Starting' });

  it.each([
    ['ErrImagePull', 'containerdisk-os', true],
    ['ImagePullBackOff', 'containerdisk-os', true],
    ['ErrImagePull', 'launcher', false], // an image volume's pull failure shows on the container that mounts it
  ] as const)('%s on %s: a status of its own, the node, and the kubelet’s message naming the disk and the image', (reason, container, init) => {
    const v = withDisk();
    const message = 'failed to pull and unpack image "registry.invalid/os:1": not found';
    const plan = planReconcile(observe(v, { pod: pod(v, waiting(container, reason, message, init), { node: 'node-real' }) }), settings);
    expect(plan.status.printableStatus).toBe(reason);
    expect(plan.status.nodeName).toBe('node-real');
    const said = `disk os (containerDisk registry.invalid/os:1): ${message}`;
    expect(plan.status.conditions).toContainEqual(expect.objectContaining({ type: 'Failure', status: 'True', reason, message: said }));
    expect(plan.events).toEqual([{ type: 'Warning', reason, message: `${reason}: ${said}` }]);
    expect(plan.actions).toEqual([]);
  });

  it('names the container when the message names no containerDisk image', () => {
    const v = withDisk();
    const plan = planReconcile(observe(v, { pod: pod(v, waiting('launcher', 'ErrImagePull', 'failed to pull image "kubevmm/launcher:9"', false), { node: 'node-real' }) }), settings);
    expect(plan.status.conditions).toContainEqual(expect.objectContaining({ type: 'Failure', message: 'container launcher: failed to pull image "kubevmm/launcher:9"' }));
  });

  it('a container that cannot be created keeps Starting but says why, once', () => {
    const v = withDisk();
    const status = waiting('launcher', 'CreateContainerConfigError', 'secret "web-1-launcher-token" not found', false);
    const plan = planReconcile(observe(v, { pod: pod(v, status, { node: 'node-real' }) }), settings);
    expect(plan.status.printableStatus).toBe('Starting');
    expect(plan.status.conditions).toContainEqual(expect.objectContaining({ type: 'Failure', status: 'True', reason: 'CreateContainerConfigError' }));
    expect(plan.events).toHaveLength(1);
    const again = planReconcile(observe({ ...v, status: plan.status }, { pod: pod(v, status, { node: 'node-real' }) }), settings);
    expect(again.events).toEqual([]);
  });

  it('progress is not a problem: ContainerCreating stays a plain Starting', () => {
    const v = withDisk();
    const plan = planReconcile(observe(v, { pod: pod(v, waiting('containerdisk-os', 'PodInitializing', ''), { node: 'node-real' }) }), settings);
    expect(plan.status.printableStatus).toBe('Starting');
    expect(plan.status.conditions).toContainEqual(expect.objectContaining({ type: 'Failure', status: 'False' }));
  });

  it('a failed containerDisk copy is the failure, not an unknown launcher exit', () => {
    const v = vm({ runStrategy: 'Once', disks: [{ name: 'os', containerDisk: { image: 'r/os:1' } }] }, { printableStatus: 'Starting', startedAt: at(-60) });
    const status: V1Pod['status'] = {
      phase: 'Failed',
      initContainerStatuses: [{ name: 'containerdisk-os', image: 'r/os:1', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, message: 'no disk image in /disk\n' } } }],
      containerStatuses: [{ name: 'launcher', image: 'l', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }],
    };
    const plan = planReconcile(observe(v, { pod: pod(v, status) }), settings);
    expect(plan.status.lastFailure).toMatchObject({ reason: 'InitContainerFailed', message: 'init container containerdisk-os exited with code 1: no disk image in /disk' });
  });
});

describe('planReconcile: endings', () => {
  it('restarts a failed launcher under Always with crash-loop backoff, counting each failure once', () => {
    const v = vm({}, { startedAt: at(-30), restartCount: 0 });
    const plan = planReconcile(observe(v, { pod: pod(v, failed()) }), settings);
    // the failure is written first; the failed pod stays until the VM's status holds it
    expect(plan.actions).toEqual([]);
    expect(plan.status).toMatchObject({ printableStatus: 'CrashLoopBackOff', restartCount: 1, lastFailure: { reason: 'QemuKilled', message: 'qemu exited on signal SIGKILL', at: now.toISOString() } });
    const recorded = planReconcile(observe(vm({}, plan.status), { pod: pod(v, failed()) }), settings);
    expect(recorded.actions).toEqual([{ kind: 'deletePod', reason: 'restart' }]);
    expect(recorded.status).toEqual(plan.status);
    // the pod is gone now: wait out the backoff, then start again
    const waiting = vm({}, plan.status);
    const next = planReconcile(observe(waiting), settings);
    expect(next.actions).toEqual([]);
    expect(next.status.printableStatus).toBe('CrashLoopBackOff');
    expect(next.requeueAfterMs).toBe(crashLoopDelayMs(1, { baseMs: 10_000, maxMs: 300_000 }));
    const later = planReconcile({ ...observe(waiting), now: new Date(now.getTime() + 10_001) }, settings);
    expect(later.actions.map((a) => a.kind)).toEqual(['createPod']);
    // a failed pod seen again (delete not yet done) is not counted twice
    expect(planReconcile(observe(vm({}, plan.status), { pod: pod(v, failed()) }), settings).status.restartCount).toBe(1);
  });

  it.each([
    ['Always', 'failed', ['deletePod'], 'CrashLoopBackOff'],
    ['RerunOnFailure', 'failed', ['deletePod'], 'CrashLoopBackOff'],
    ['Once', 'failed', [], 'Stopped'],
    ['Manual', 'failed', [], 'Stopped'],
    ['Always', 'succeeded', ['deletePod'], 'Stopped'],
    ['RerunOnFailure', 'succeeded', [], 'Stopped'],
    ['Once', 'succeeded', [], 'Stopped'],
    ['Halted', 'succeeded', ['deletePod'], 'Stopped'],
  ] as const)('%s after the launcher %s -> %j, %s', (runStrategy, end, actions, status) => {
    const v = vm({ runStrategy }, { startedAt: at(-30) });
    const p = pod(v, end === 'failed' ? failed() : { phase: 'Succeeded' });
    const first = planReconcile(observe(v, { pod: p }), settings);
    // a failure is in the VM's status before its pod goes
    const plan = end === 'failed' ? planReconcile(observe(vm({ runStrategy }, first.status), { pod: p }), settings) : first;
    if (end === 'failed') expect(first.actions).toEqual([]);
    expect(plan.actions.map((a) => a.kind)).toEqual(actions);
    expect(plan.status.printableStatus).toBe(status);
  });

  it('a failed launcher whose failure the VM does not show yet stays, whatever status the VM had before', () => {
    // a status write lost to a conflict: the VM still shows the run as Running
    const v = vm({}, { startedAt: at(-30), printableStatus: 'Running', restartCount: 2, consecutiveFailures: 1, lastFailure: { reason: 'QemuKilled', message: 'older', at: at(-40) } });
    const again = planReconcile(observe(v, { pod: pod(v, failed()) }), settings);
    expect(again.actions).toEqual([]);
    expect(again.status).toMatchObject({ restartCount: 3, consecutiveFailures: 2, lastFailure: { at: now.toISOString() } });
    // a pod stamped with a later start than the VM shows is a run of its own: not counted yet
    const stamped = pod(v, failed());
    stamped.metadata = { ...stamped.metadata, annotations: { ...stamped.metadata?.annotations, 'kubevmm.io/started-at': at(-20) } };
    const recordedEarlier = vm({}, { ...v.status, lastFailure: { reason: 'QemuKilled', message: 'older', at: at(-25) } });
    expect(planReconcile(observe(recordedEarlier, { pod: stamped }), settings).actions).toEqual([]);
    // a run whose start nothing records cannot be matched to its record: not kept forever
    const unknown = vm({}, {});
    expect(planReconcile(observe(unknown, { pod: pod(unknown, failed()) }), settings).actions).toEqual([{ kind: 'deletePod', reason: 'restart' }]);
  });

  it('resets the backoff after a healthy run of 10 minutes, as the kubelet does', () => {
    const crashLooping = { startedAt: at(-30), restartCount: 6, consecutiveFailures: 6 };
    const ranFor = (ms: number) => {
      const f = failed();
      const terminated = { ...f!.containerStatuses![0]!.state!.terminated!, startedAt: new Date(now.getTime() - ms), finishedAt: now };
      return { ...f, containerStatuses: [{ ...f!.containerStatuses![0]!, state: { terminated } }] };
    };
    const short = planReconcile(observe(vm({}, crashLooping), { pod: pod(vm(), ranFor(60_000)) }), settings);
    expect(short.status).toMatchObject({ restartCount: 7, consecutiveFailures: 7 });
    const healthy = planReconcile(observe(vm({}, crashLooping), { pod: pod(vm(), ranFor(11 * 60_000)) }), settings);
    expect(healthy.status).toMatchObject({ restartCount: 7, consecutiveFailures: 1 });
    // the next start waits the base delay again, not the capped 5 minutes
    expect(planReconcile(observe(vm({}, healthy.status)), settings).requeueAfterMs).toBe(10_000);
    expect(planReconcile(observe(vm({}, short.status)), settings).requeueAfterMs).toBe(300_000);
  });

  it('keeps the backoff growing and capped', () => {
    expect([1, 2, 3, 6, 10].map((n) => crashLoopDelayMs(n, { baseMs: 10_000, maxMs: 300_000 }))).toEqual([10_000, 20_000, 40_000, 300_000, 300_000]);
  });
});

describe('planReconcile: deletion', () => {
  const deleting = (status: VmStatus = {}) => vm({}, status, { deletionTimestamp: now.toISOString() });

  it('deletes the pod, then removes the finalizer only once the pod is gone', () => {
    const v = deleting({ startedAt: at(-30) });
    expect(kinds(observe(v, { pod: pod(v, running(), { node: 'n' }) }))).toEqual(['deletePod']);
    expect(kinds(observe(v, { pod: pod(v, running(), { node: 'n', deleting: true }) }))).toEqual([]);
    expect(printable(observe(v, { pod: pod(v, running(), { node: 'n', deleting: true }) }))).toBe('Terminating');
    expect(kinds(observe(v))).toEqual(['removeFinalizer']);
  });
});

describe('planReconcile: a quick start writes status once', () => {
  const held: ReconcileSettings = { ...settings, startingHoldMs: 2_000 };
  const stamped = (v: VirtualMachine, status: V1Pod['status'], opts: { ageMs: number; startedAt?: string }): V1Pod => {
    const p = pod(v, status, { node: 'node-a' });
    const created = new Date(now.getTime() - opts.ageMs);
    return { ...p, metadata: { ...p.metadata, creationTimestamp: created, annotations: { ...p.metadata?.annotations, 'kubevmm.io/started-at': opts.startedAt ?? created.toISOString() } } };
  };

  it('holds the Starting status of the reconcile that creates the pod, and stamps the run start on the pod', () => {
    const plan = planReconcile(observe(vm()), held);
    const create = plan.actions.find((a) => a.kind === 'createPod');
    expect(create?.kind === 'createPod' && create.pod.metadata?.annotations?.['kubevmm.io/started-at']).toBe(now.toISOString());
    expect(plan.status).toMatchObject({ printableStatus: 'Starting', startedAt: now.toISOString() });
    expect(plan.holdStatusMs).toBe(2_000);
  });

  it('keeps holding while the young pod is not Ready, then writes Starting once the hold is over', () => {
    const v = vm();
    expect(planReconcile(observe(v, { pod: stamped(v, { phase: 'Pending' }, { ageMs: 500 }) }), held).holdStatusMs).toBe(1_500);
    const late = planReconcile(observe(v, { pod: stamped(v, { phase: 'Pending' }, { ageMs: 2_500 }) }), held);
    expect(late.holdStatusMs).toBeUndefined();
    expect(late.status.printableStatus).toBe('Starting');
    expect(late.events.map((e) => e.reason)).toEqual(['Starting']);
  });

  it('writes Running with the start from the pod when the launcher was Ready within the hold', () => {
    const v = vm();
    const plan = planReconcile(observe(v, { pod: stamped(v, running(), { ageMs: 400, startedAt: at(-0.4) }) }), held);
    expect(plan.holdStatusMs).toBeUndefined();
    expect(plan.status).toMatchObject({ printableStatus: 'Running', startedAt: at(-0.4) });
  });

  it('does not hold a VM that already says Starting, nor anything but Starting', () => {
    const v = vm({}, { printableStatus: 'Starting', startedAt: at(-1) });
    expect(planReconcile(observe(v, { pod: stamped(v, { phase: 'Pending' }, { ageMs: 1_000 }) }), held).holdStatusMs).toBeUndefined();
    expect(planReconcile(observe(vm(), { missingPvcs: ['root'] }), held).holdStatusMs).toBeUndefined();
  });

  it('does not restart a Manual VM again when its restart was honoured by a pod whose status was held', () => {
    const v = vm({ runStrategy: 'Manual', restartRequestedAt: at(-10) }, { printableStatus: 'Stopped', startedAt: at(-3600) });
    const plan = planReconcile(observe(v, { pod: stamped(v, running(), { ageMs: 5_000 }) }), held);
    expect(plan.actions.map((a) => a.kind)).toEqual([]);
    expect(plan.status).toMatchObject({ printableStatus: 'Running', startedAt: at(-5) });
  });

  it('keeps a start the status already has when the pod carries no stamp (made by an older operator)', () => {
    const v = vm({}, { printableStatus: 'Running', startedAt: at(-60) });
    expect(planReconcile(observe(v, { pod: pod(v, running(), { node: 'node-a' }) }), held).status.startedAt).toBe(at(-60));
  });
});
