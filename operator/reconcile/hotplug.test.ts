import type { VirtualMachine, VmStatus } from '../../api/schema/vm.js';
import { diskEvents, planHotplug, planHotplugStopped, type HotplugContext } from './hotplug.js';
import type { HotplugObserved, LauncherStatus } from './types.js';

const PVC = { mode: 'Filesystem' as const, sizeBytes: 1 << 30 };

function vm(disks: NonNullable<VirtualMachine['spec']['disks']>, status?: VmStatus): VirtualMachine {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'web', namespace: 'team', uid: 'u1', generation: 1 },
    spec: { memory: { guest: '1Gi' }, disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'root' } }, ...disks] },
    ...(status ? { status } : {}),
  };
}

const data = { name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'web-data' } };

/** `launcher` null: the launcher could not be reached. */
function ctx(v: VirtualMachine, obs: Partial<HotplugObserved>, launcher: LauncherStatus | null = { state: 'running', accelerator: 'tcg', startedAt: '2026-01-01T00:00:00Z', disks: [] }): HotplugContext {
  return { vm: v, launcherImage: 'launcher:1', node: 'node-a', obs: { attachments: {}, pvcs: {}, conflicts: {}, ...obs }, ...(launcher ? { launcher } : {}) };
}

const kinds = (p: { actions: { kind: string }[] }) => p.actions.map((a) => a.kind);
const report = (disks: LauncherStatus['disks']): LauncherStatus => ({ state: 'running', accelerator: 'tcg', startedAt: '2026-01-01T00:00:00Z', disks });

describe('planHotplug', () => {
  it.each([
    ['PVC missing: Pending naming the claim, nothing created', ctx(vm([data]), {}), [], 'Pending', /PersistentVolumeClaim web-data not found in namespace team; create it/],
    ['no attachment pod: create it (with its Service) on the VM node', ctx(vm([data]), { pvcs: { 'web-data': PVC } }), ['createAttachment'], 'Pending', /starting the attachment pod web-hotplug-data on node node-a/],
    ['attachment pod not ready: wait', ctx(vm([data]), { pvcs: { 'web-data': PVC }, attachments: { data: { ready: false, deleting: false } } }), [], 'Pending', /waiting for the NBD export/],
    ['export ready: attach through the launcher', ctx(vm([data]), { pvcs: { 'web-data': PVC }, attachments: { data: { ready: true, deleting: false } } }), ['attachDisk'], 'Attaching', /^$/],
    ['launcher attached it: Attached with its target', ctx(vm([data]), { pvcs: { 'web-data': PVC }, attachments: { data: { ready: true, deleting: false } } }, report([{ name: 'data', phase: 'Attached', target: 'vdb' }])), [], 'Attached', /^$/],
    ['attachment pod deleted while attached: recreate it, keep the launcher phase', ctx(vm([data]), { pvcs: { 'web-data': PVC } }, report([{ name: 'data', phase: 'Attached', target: 'vdb' }])), ['createAttachment'], 'Attached', /^$/],
    ['claim held read-write by another VM: Failed, nothing created', ctx(vm([data]), { pvcs: { 'web-data': PVC }, conflicts: { 'web-data': 'db' } }), [], 'Failed', /in read-write use by VirtualMachine db; detach it there first/],
    ['attachment pod evicted: delete it so it is replaced, keep the launcher phase', ctx(vm([data]), { pvcs: { 'web-data': PVC }, attachments: { data: { ready: false, deleting: false, failed: 'Evicted: The node was low on resource: memory.' } } }, report([{ name: 'data', phase: 'Attached', target: 'vdb' }])), ['deleteAttachment'], 'Attached', /^$/],
    ['attachment pod Failed before the attach: replaced, saying why', ctx(vm([data]), { pvcs: { 'web-data': PVC }, attachments: { data: { ready: false, deleting: false, failed: 'Failed' } } }), ['deleteAttachment'], 'Pending', /replacing the attachment pod web-hotplug-data \(Failed\)/],
    ['launcher unreachable: no attach, previous status kept', ctx(vm([data], { disks: [{ name: 'data', phase: 'Attached', target: 'vdb' }] }), { pvcs: { 'web-data': PVC }, attachments: { data: { ready: true, deleting: false } } }, null), [], 'Attached', /^$/],
  ])('%s', (_name, c, actions, phase, message) => {
    const plan = planHotplug(c);
    expect(kinds(plan)).toEqual(actions);
    expect(plan.disks).toHaveLength(1);
    expect(plan.disks[0]?.phase).toBe(phase);
    expect(plan.disks[0]?.message ?? '').toMatch(message);
  });

  it('reads a real launcher’s report: the disks it booted with and a declared-but-unattached disk are not hotplug’s', () => {
    // A launcher lists every disk of its VM: the boot disks Attached, a hotpluggable one Pending.
    const real = report([
      { name: 'root', phase: 'Attached', target: 'vda' },
      { name: 'data', phase: 'Pending' },
    ]);
    const c = { ...ctx(vm([data]), { pvcs: { 'web-data': PVC }, attachments: { data: { ready: true, deleting: false } } }, real), coldDisks: new Set(['root']) };
    const plan = planHotplug(c);
    expect(kinds(plan)).toEqual(['attachDisk']);
    expect(plan.disks.map((d) => [d.name, d.phase])).toEqual([['data', 'Attaching']]);
    // Removing the hotpluggable disk from the spec never detaches the boot disk.
    const removed = planHotplug({ ...c, vm: vm([]), launcher: report([{ name: 'root', phase: 'Attached', target: 'vda' }, { name: 'data', phase: 'Attached', target: 'vdb' }]) });
    expect(removed.actions).toEqual([{ kind: 'detachDisk', name: 'data' }]);
  });

  it('a read-only disk may share a claim another VM holds', () => {
    const ro = { ...data, readOnly: true };
    const plan = planHotplug(ctx(vm([ro]), { pvcs: { 'web-data': PVC }, attachments: { data: { ready: true, deleting: false } }, conflicts: { 'web-data': 'db' } }));
    expect(kinds(plan)).toEqual(['attachDisk']);
  });

  it('attaches by the stable DNS name of the export, with the disk settings', () => {
    const disk = { ...data, bus: 'scsi' as const, cache: 'writeback' as const };
    const plan = planHotplug(ctx(vm([disk]), { pvcs: { 'web-data': PVC }, attachments: { data: { ready: true, deleting: false } } }));
    expect(plan.actions[0]).toEqual({
      kind: 'attachDisk',
      request: { name: 'data', nbd: { host: 'disk-data.hotplug-web.team.svc', port: 10809, export: 'disk' }, bus: 'scsi', readOnly: false, cache: 'writeback' },
    });
  });

  it('a disk removed from the spec is detached, and its pod deleted once the launcher let go', () => {
    const attachments = { data: { ready: true, deleting: false } };
    const detach = planHotplug(ctx(vm([]), { attachments }, report([{ name: 'data', phase: 'Attached', target: 'vdb' }])));
    expect(kinds(detach)).toEqual(['detachDisk']);
    expect(detach.disks).toEqual([{ name: 'data', phase: 'Detaching', target: 'vdb', message: '' }]);
    const waiting = planHotplug(ctx(vm([]), { attachments }, report([{ name: 'data', phase: 'Detaching' }])));
    expect(kinds(waiting)).toEqual([]);
    const done = planHotplug(ctx(vm([]), { attachments }, report([])));
    expect(done.actions).toEqual([{ kind: 'deleteAttachment', name: 'web-hotplug-data' }]);
    expect(done.disks).toEqual([]);
  });

  it('a detach the guest refused stays Failed with the launcher message, and is asked again', () => {
    const plan = planHotplug(ctx(vm([]), { attachments: { data: { ready: true, deleting: false } } }, report([{ name: 'data', phase: 'Failed', message: 'guest did not release disk data within 30s' }])));
    expect(kinds(plan)).toEqual(['detachDisk']);
    expect(plan.disks[0]).toMatchObject({ phase: 'Failed', message: /did not release/ });
  });

  it('an unreachable launcher never gets attachment pods deleted under it, nor its disks reported gone', () => {
    const before = vm([], { disks: [{ name: 'data', phase: 'Attached', target: 'vdb' }] });
    const plan = planHotplug(ctx(before, { attachments: { data: { ready: true, deleting: false } } }, null));
    expect(kinds(plan)).toEqual([]);
    expect(plan.disks).toEqual([{ name: 'data', phase: 'Attached', target: 'vdb' }]);
  });

  it('looks again while anything is in flight, not once all are settled', () => {
    expect(planHotplug(ctx(vm([data]), { pvcs: { 'web-data': PVC } })).pending).toBe(true);
    expect(planHotplug(ctx(vm([data]), { pvcs: { 'web-data': PVC }, attachments: { data: { ready: true, deleting: false } } }, report([{ name: 'data', phase: 'Attached' }]))).pending).toBe(false);
  });
});

describe('planHotplugStopped', () => {
  it('deletes every attachment pod and leaves wanted disks Pending', () => {
    const plan = planHotplugStopped(vm([data]), { attachments: { data: { ready: true, deleting: false }, old: { ready: false, deleting: true } }, pvcs: {}, conflicts: {} });
    expect(plan.actions).toEqual([{ kind: 'deleteAttachment', name: 'web-hotplug-data' }]);
    expect(plan.disks).toEqual([{ name: 'data', phase: 'Pending', message: 'attached once the VM runs' }]);
  });
});

describe('diskEvents', () => {
  it('records attach, failure and detach once each', () => {
    expect(diskEvents([{ name: 'a', phase: 'Attaching' }], [{ name: 'a', phase: 'Attached', target: 'vdb' }])).toEqual([{ type: 'Normal', reason: 'DiskAttached', message: 'disk a attached as vdb' }]);
    expect(diskEvents([{ name: 'a', phase: 'Attached' }], [{ name: 'a', phase: 'Attached' }])).toEqual([]);
    expect(diskEvents([{ name: 'a', phase: 'Attached' }], [{ name: 'a', phase: 'Failed', message: 'x' }])[0]).toMatchObject({ type: 'Warning', reason: 'DiskFailed' });
    expect(diskEvents([{ name: 'a', phase: 'Detaching' }], [])).toEqual([{ type: 'Normal', reason: 'DiskDetached', message: 'disk a detached' }]);
    expect(diskEvents([{ name: 'a', phase: 'Pending' }], [])).toEqual([]);
  });
});
