import { launcherVm, type LauncherVm } from '../api/resolve.js';
import { DEFAULT_CONFIG } from '../api/schema/config.js';
import type { DiskSpec, VirtualMachine } from '../api/schema/vm.js';
import { afterStep, appliedAtStart, changedPaths, planWatch, type WatchPlan } from './watch-plan.js';

const root: DiskSpec = { name: 'root', containerDisk: { image: 'fixture' } };
const ci: DiskSpec = { name: 'ci', cloudInit: { userData: '#cloud-config' } };
const data: DiskSpec = { name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'data' } };
const logs: DiskSpec = { name: 'logs', hotpluggable: true, bus: 'scsi', readOnly: true, persistentVolumeClaim: { claimName: 'logs' } };

function vm(spec: Partial<VirtualMachine['spec']> = {}): LauncherVm {
  const manifest: VirtualMachine = {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'w' },
    spec: { memory: { guest: '128Mi' }, disks: [root, ci], ...spec },
  };
  return launcherVm(manifest, undefined, DEFAULT_CONFIG);
}

const paths = { root: '/img/root.img', data: '/img/data.img', logs: '/img/logs.img' };
const none: WatchPlan = { steps: [], unmapped: [], restart: [] };
const dataDisk = (v: LauncherVm) => v.disks.find((d) => d.name === 'data')!;

describe('planWatch', () => {
  const withData = vm({ disks: [root, ci, data] });
  const cases: [string, LauncherVm, LauncherVm, WatchPlan][] = [
    ['no change', vm(), vm(), none],
    ['a default written out changes nothing outside the disks', vm(), vm({ cpu: { cores: 1 }, firmware: 'bios' }), none],
    ['hotpluggable disk added with a --disk file: attach', vm(), withData, { ...none, steps: [{ kind: 'attach', disk: dataDisk(withData), path: '/img/data.img' }] }],
    ['hotpluggable disk removed: detach', withData, vm(), { ...none, steps: [{ kind: 'detach', name: 'data' }] }],
    ['hotpluggable disk added without a file: nothing attached', vm(), vm({ disks: [root, ci, { ...data, name: 'extra' }] }), { ...none, unmapped: ['extra'] }],
    ['paused: true', vm(), vm({ paused: true }), { ...none, steps: [{ kind: 'pause' }] }],
    ['paused: false', vm({ paused: true }), vm(), { ...none, steps: [{ kind: 'resume' }] }],
    ['cpu and memory need a restart', vm(), vm({ cpu: { cores: 2 }, memory: { guest: '256Mi' } }), { ...none, restart: ['spec.cpu.cores', 'spec.memory.guest'] }],
    ['devices and interfaces need a restart', vm(), vm({ devices: { graphics: 'none' }, interfaces: [] }), { ...none, restart: ['spec.devices.graphics', 'spec.interfaces'] }],
    ['scheduling fields are named as written', vm(), vm({ nodeSelector: { a: 'b' } }), { ...none, restart: ['spec.nodeSelector.a'] }],
    ['a non-hotpluggable disk added', vm(), vm({ disks: [root, ci, { name: 's', emptyDisk: { capacity: '1Gi' } }] }), { ...none, restart: ['spec.disks[name=s] (added)'] }],
    ['a non-hotpluggable disk removed', vm(), vm({ disks: [root] }), { ...none, restart: ['spec.disks[name=ci] (removed)'] }],
    ['a non-hotpluggable disk edited', vm(), vm({ disks: [{ ...root, bus: 'scsi' }, ci] }), { ...none, restart: ['spec.disks[name=root].bus'] }],
    ['a default written into a disk entry (hashed as written)', vm(), vm({ disks: [{ ...root, bus: 'virtio' }, ci] }), { ...none, restart: ['spec.disks[name=root].bus'] }],
    ['a hotpluggable disk edited in place', withData, vm({ disks: [root, ci, { ...data, readOnly: true }] }), { ...none, restart: ['spec.disks[name=data].readOnly'] }],
    ['hotpluggable turned off: a restart, no unplug', withData, vm({ disks: [root, ci, { ...data, hotpluggable: false }] }), { ...none, restart: ['spec.disks[name=data].hotpluggable'] }],
    ['disks reordered', vm(), vm({ disks: [ci, root] }), { ...none, restart: ['spec.disks (order)'] }],
    ['boot position moved by another disk', vm({ disks: [root, { name: 's', emptyDisk: { capacity: '1Gi' } }] }), vm({ disks: [{ name: 's', emptyDisk: { capacity: '1Gi' } }, root] }), { ...none, restart: ['spec.disks[name=root].bootOrder', 'spec.disks[name=s].bootOrder', 'spec.disks (order)'] }],
    ['a hotpluggable disk moved in the list: nothing', vm({ disks: [root, data, ci] }), vm({ disks: [root, ci, data] }), none],
  ];

  it.each(cases)('%s', (_name, applied, next, expected) => {
    expect(planWatch(applied, next, paths)).toEqual(expected);
  });

  it('resumes before unplugging (a paused guest cannot release a disk) and pauses after plugging', () => {
    const pausedWithData = vm({ paused: true, disks: [root, ci, data] });
    expect(planWatch(pausedWithData, vm(), paths).steps.map((s) => s.kind)).toEqual(['resume', 'detach']);
    expect(planWatch(vm(), vm({ paused: true, disks: [root, ci, logs] }), paths).steps.map((s) => s.kind)).toEqual(['attach', 'pause']);
  });

  it('unplugs before plugging, so a spare port is free for the new disk', () => {
    const plan = planWatch(withData, vm({ disks: [root, ci, logs] }), paths);
    expect(plan.steps.map((s) => s.kind)).toEqual(['detach', 'attach']);
  });

  it('applies live steps and still reports restart fields in the same edit', () => {
    const plan = planWatch(vm(), vm({ paused: true, cpu: { sockets: 2 }, disks: [root, ci, data] }), paths);
    expect(plan.steps.map((s) => s.kind)).toEqual(['attach', 'pause']);
    expect(plan.restart).toEqual(['spec.cpu.sockets']);
  });
});

describe('afterStep', () => {
  it('tracks what the VM has, so a failed step is planned again and a done one is not', () => {
    const start = vm();
    const next = vm({ paused: true, disks: [root, ci, data] });
    const [attach, pause] = planWatch(start, next, paths).steps;
    const attached = afterStep(start, attach!);
    expect(planWatch(attached, next, paths).steps).toEqual([pause]);
    expect(planWatch(afterStep(attached, pause!), next, paths)).toEqual(none);
    expect(planWatch(afterStep(afterStep(attached, pause!), { kind: 'detach', name: 'data' }), next, paths).steps.map((s) => s.kind)).toEqual(['attach']);
  });

  it('keeps restart-relevant fields as at start, so a restart stays reported until undone', () => {
    const start = vm();
    const edited = vm({ cpu: { cores: 4 } });
    const paused = afterStep(start, { kind: 'pause' });
    expect(planWatch(paused, vm({ cpu: { cores: 4 }, paused: true }), paths).restart).toEqual(['spec.cpu.cores']);
    expect(planWatch(start, edited, paths).restart).toEqual(['spec.cpu.cores']);
    expect(planWatch(start, vm(), paths)).toEqual(none);
  });
});

describe('appliedAtStart', () => {
  it('leaves out hotpluggable disks without a file: adding a file later is not possible, so they stay unmapped', () => {
    const start = vm({ disks: [root, ci, data, logs] });
    const applied = appliedAtStart(start, { root: '/r', data: '/d' });
    expect(applied.disks.map((d) => d.name)).toEqual(['root', 'ci', 'data']);
    expect(planWatch(applied, start, { root: '/r', data: '/d' }).unmapped).toEqual(['logs']);
  });
});

describe('changedPaths', () => {
  it.each([
    [{ a: 1 }, { a: 1 }, []],
    [{ a: 1, b: undefined }, { a: 1 }, []],
    [{ a: { b: 1, c: 2 } }, { a: { b: 1, c: 3 } }, ['a.c']],
    [{ a: [1, 2] }, { a: [2, 1] }, ['a']],
    [{ a: 1 }, { b: 1 }, ['a', 'b']],
    [1, 2, ['']],
  ])('%j vs %j', (a, b, expected) => {
    expect(changedPaths(a, b)).toEqual(expected);
  });
});
