import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { renderLauncherPod } from '../render/pod.js';
import type { ImageDiskObserved } from './image-disks.js';
import { planReconcile } from './plan.js';
import { FINALIZER, type Observed, type ReconcileSettings } from './types.js';

const now = new Date('2026-12-06T04:00:00Z');
const settings: ReconcileSettings = { config: DEFAULT_CONFIG, crashLoopBaseMs: 10_000, crashLoopMaxMs: 300_000, pollMs: 5_000 };
const CLAIM = { owned: true, mode: 'Filesystem' as const, sizeBytes: 2 ** 30, storageClassName: 'local', accessModes: ['ReadWriteOnce'] };

const vm: VirtualMachine = {
  apiVersion: 'kubevmm.io/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name: 'web', namespace: 'team-a', uid: 'vm-uid', generation: 1, finalizers: [FINALIZER] },
  spec: { memory: { guest: '1Gi' }, disks: [{ name: 'root', image: { name: 'debian' } }, { name: 'data', persistentVolumeClaim: { claimName: 'data' } }] },
};
const observe = (imageDisks: ImageDiskObserved[]): Observed => ({ vm, missingPvcs: [], pvcs: {}, now, imageDisks });
const condition = (o: Observed, type: string) => planReconcile(o, settings).status.conditions?.find((c) => c.type === type);

describe('planReconcile with image disks', () => {
  it('stays Provisioning, with DisksReady naming the disk, while the image imports; no launcher yet', () => {
    const o = observe([{ disk: 'root', image: { phase: 'Importing', progress: '10%' } }]);
    const plan = planReconcile(o, settings);
    expect(plan.status.printableStatus).toBe('Provisioning');
    expect(plan.actions).toEqual([]);
    expect(condition(o, 'DisksReady')).toMatchObject({ status: 'False', reason: 'ImageNotReady', message: expect.stringContaining('disk root: waiting for VirtualMachineImage debian (Importing, 10%)') });
    expect(condition(o, 'Failure')?.status).toBe('False');
    expect(plan.requeueAfterMs).toBe(5000);
  });

  it('a claim conflict is a Failure the user must resolve, and an Event says it', () => {
    const o = observe([{ disk: 'root', claim: { ...CLAIM, owned: false, populated: false } }]);
    const plan = planReconcile(o, settings);
    expect(plan.status.printableStatus).toBe('Provisioning');
    expect(condition(o, 'Failure')).toMatchObject({ status: 'True', reason: 'ClaimConflict' });
    expect(plan.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'Provisioning', message: expect.stringContaining('ClaimConflict: disk root: PersistentVolumeClaim web-root exists') })]);
    expect(plan.actions.some((a) => a.kind === 'createPod')).toBe(false);
  });

  it('starts the launcher once every image disk is ready, mounting the VM claim <vm>-<disk>', () => {
    const o = observe([{ disk: 'root', claim: { ...CLAIM, populated: true } }]);
    const plan = planReconcile(o, settings);
    expect(plan.status.printableStatus).toBe('Starting');
    expect(condition(o, 'DisksReady')?.status).toBe('True');
    const create = plan.actions.find((a) => a.kind === 'createPod');
    expect(create?.kind === 'createPod' && create.pod.spec?.volumes).toContainEqual({ name: 'disk-root', persistentVolumeClaim: { claimName: 'web-root', readOnly: false } });
  });

  it('a VM whose launcher runs has its image disks: DisksReady stays True', () => {
    const pod = renderLauncherPod({ vm, config: DEFAULT_CONFIG });
    const o: Observed = { vm: { ...vm, status: { conditions: [{ type: 'DisksReady', status: 'False', reason: 'Copying', message: 'x', lastTransitionTime: now.toISOString() }] } }, pod: { ...pod, status: { phase: 'Pending' } }, missingPvcs: [], pvcs: {}, now };
    expect(condition(o, 'DisksReady')?.status).toBe('True');
  });

  it('asks the launcher to grow a Filesystem image disk to what its claim holds', () => {
    const pod = renderLauncherPod({ vm, config: DEFAULT_CONFIG, pvcs: { 'web-root': { mode: 'Filesystem', sizeBytes: 2 * 2 ** 30 }, data: { mode: 'Filesystem', sizeBytes: 2 ** 30 } } });
    const args = pod.spec?.containers[0]?.args ?? [];
    expect(args.join(' ')).toContain(`--disk-size root=${Math.floor(2 * 2 ** 30 * 0.945)} --disk-size data=${2 ** 30}`);
  });

  it('renders a Block image claim as a device, like a Block PVC', () => {
    const pod = renderLauncherPod({ vm, config: DEFAULT_CONFIG, pvcs: { 'web-root': { mode: 'Block', sizeBytes: 2 ** 30 } } });
    expect(pod.spec?.containers[0]?.volumeDevices).toContainEqual({ name: 'disk-root', devicePath: '/dev/kubevmm/root' });
  });
});
