import { addVolumeEdit, EditRefused, pauseEdit, progressOf, removeVolumeEdit, resizeEdit, restartEdit, startEdit, stopEdit, type VmView } from './vm-edits.js';

const now = new Date('2026-12-01T10:00:00.000Z');
const vm = (spec: VmView['spec'] = {}, status?: VmView['status']): VmView => ({ metadata: { name: 'web-1', resourceVersion: '42' }, spec, ...(status ? { status } : {}) });

describe('start', () => {
  it('sets a Halted VM to Always', () => {
    expect(startEdit(vm({ runStrategy: 'Halted' }), now)).toEqual({ patch: { type: 'merge', body: { spec: { runStrategy: 'Always' } } }, goal: { kind: 'status', printableStatus: 'Running' } });
  });
  it('starts a Manual VM, and a Once VM that ran, with a restart request', () => {
    const request = { type: 'merge', body: { spec: { restartRequestedAt: '2026-12-01T10:00:00.000Z' } } };
    expect(startEdit(vm({ runStrategy: 'Manual' }), now).patch).toEqual(request);
    expect(startEdit(vm({ runStrategy: 'Once' }, { printableStatus: 'Stopped' }), now).patch).toEqual(request);
  });
  it('changes nothing on a VM that is meant to run (and waits for Running)', () => {
    expect(startEdit(vm({}), now)).toEqual({ goal: { kind: 'status', printableStatus: 'Running' } });
  });
});

describe('stop', () => {
  it('halts the VM, with the grace period when given, and --force as no grace', () => {
    expect(stopEdit(vm()).patch).toEqual({ type: 'merge', body: { spec: { runStrategy: 'Halted' } } });
    expect(stopEdit(vm(), { grace: 30 }).patch).toEqual({ type: 'merge', body: { spec: { runStrategy: 'Halted', terminationGracePeriodSeconds: 30 } } });
    expect(stopEdit(vm(), { force: true }).patch).toEqual({ type: 'merge', body: { spec: { runStrategy: 'Halted', terminationGracePeriodSeconds: 0 } } });
    expect(stopEdit(vm()).goal).toEqual({ kind: 'status', printableStatus: 'Stopped' });
  });
  it('refuses --force with a grace period, naming both', () => {
    expect(() => stopEdit(vm(), { force: true, grace: 30 })).toThrow('--force means no grace period; drop --grace 30 or --force');
  });
});

describe('restart, pause, unpause', () => {
  it('restart asks once and waits until the VM recorded that very request and runs', () => {
    const edit = restartEdit(vm(), now);
    expect(edit.patch).toEqual({ type: 'merge', body: { spec: { restartRequestedAt: '2026-12-01T10:00:00.000Z' } } });
    expect(progressOf(vm({}, { printableStatus: 'Running', lastRestartRequestedAt: 'earlier' }), edit.goal)).toEqual({ state: 'waiting', line: 'web-1: Running (restart requested)' });
    expect(progressOf(vm({}, { printableStatus: 'Running', lastRestartRequestedAt: '2026-12-01T10:00:00.000Z' }), edit.goal).state).toBe('reached');
  });
  it('restart of a Halted VM says to start it', () => {
    expect(() => restartEdit(vm({ runStrategy: 'Halted' }), now)).toThrow(/kubevmm start web-1/);
  });
  it('pause and unpause patch spec.paused only when it differs', () => {
    expect(pauseEdit(vm(), true)).toEqual({ patch: { type: 'merge', body: { spec: { paused: true } } }, goal: { kind: 'status', printableStatus: 'Paused' } });
    expect(pauseEdit(vm({ paused: true }), false).patch).toEqual({ type: 'merge', body: { spec: { paused: false } } });
    expect(pauseEdit(vm({ paused: true }), true).patch).toBeUndefined();
    expect(() => pauseEdit(vm({ runStrategy: 'Halted' }), true)).toThrow(EditRefused);
  });
});

describe('addvolume', () => {
  const withRoot = vm({ disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'web-1-root' } }] });

  it('appends a hotpluggable PVC disk, guarded by the resourceVersion read, and waits for Attached', () => {
    expect(addVolumeEdit(withRoot, { claim: 'data', bus: 'scsi' })).toEqual({
      patch: {
        type: 'json',
        body: [
          { op: 'test', path: '/metadata/resourceVersion', value: '42' },
          { op: 'add', path: '/spec/disks/-', value: { name: 'data', hotpluggable: true, bus: 'scsi', persistentVolumeClaim: { claimName: 'data' } } },
        ],
      },
      goal: { kind: 'disk-attached', disk: 'data' },
    });
  });
  it('refuses a name or a claim the VM already has, naming the fix', () => {
    expect(() => addVolumeEdit(withRoot, { claim: 'other', name: 'root' })).toThrow('VM web-1 already has a disk named root: give another with --name');
    expect(() => addVolumeEdit(withRoot, { claim: 'web-1-root', name: 'again' })).toThrow('claim web-1-root is already disk root of VM web-1');
  });
  it('reports a failed attach with the operator\'s message, and stops waiting', () => {
    const status = { disks: [{ name: 'data', phase: 'Failed', message: 'claim data is held read-write by VM other' }] };
    expect(progressOf(vm({}, status), { kind: 'disk-attached', disk: 'data' })).toEqual({ state: 'failed', line: 'web-1: disk data Failed: claim data is held read-write by VM other' });
  });
});

describe('removevolume', () => {
  const disks = [{ name: 'root' }, { name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'data' } }];

  it('removes the disk at its index, testing that the index still holds it', () => {
    expect(removeVolumeEdit(vm({ disks }), 'data').patch).toEqual({
      type: 'json',
      body: [
        { op: 'test', path: '/metadata/resourceVersion', value: '42' },
        { op: 'test', path: '/spec/disks/1/name', value: 'data' },
        { op: 'remove', path: '/spec/disks/1' },
      ],
    });
  });
  it('refuses an unknown disk (listing the VM\'s) and a disk that is not hotpluggable', () => {
    expect(() => removeVolumeEdit(vm({ disks }), 'scratch')).toThrow('VM web-1 has no disk scratch; it has root, data');
    expect(() => removeVolumeEdit(vm({ disks }), 'root')).toThrow(/not hotpluggable.*restart the VM/);
  });
  it('is done when the disk left the status', () => {
    const goal = { kind: 'disk-gone', disk: 'data' } as const;
    expect(progressOf(vm({}, { disks: [{ name: 'data', phase: 'Detaching' }] }), goal)).toEqual({ state: 'waiting', line: 'web-1: disk data Detaching' });
    expect(progressOf(vm({}, { disks: [] }), goal)).toEqual({ state: 'reached', line: 'web-1: disk data removed' });
  });
});

describe('resize', () => {
  it('sets the vCPUs as one socket of that many cores, and the guest memory', () => {
    expect(resizeEdit(vm({}), { cpus: 4, memory: '8Gi' }).patch).toEqual({ type: 'merge', body: { spec: { cpu: { sockets: 1, cores: 4, threads: 1 }, memory: { guest: '8Gi' } } } });
  });
  it('refuses a vCPU count that is not a whole number from 1 to 512, and an empty change', () => {
    expect(() => resizeEdit(vm({}), { cpus: 0 })).toThrow('from 1 to 512, not 0');
    expect(() => resizeEdit(vm({}), { cpus: 2.5 })).toThrow(EditRefused);
    expect(() => resizeEdit(vm({}), {})).toThrow('give vCPUs or memory');
  });
});
