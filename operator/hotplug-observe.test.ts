import type { VirtualMachine, VmStatus } from '../api/schema/vm.js';
import { attachmentsOf, claimConflicts, pvcInfo } from './hotplug-observe.js';

function vm(name: string, disks: NonNullable<VirtualMachine['spec']['disks']>, status?: VmStatus): VirtualMachine {
  return { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'team' }, spec: { memory: { guest: '1Gi' }, disks }, ...(status ? { status } : {}) };
}
const hot = (name: string, claimName: string, readOnly = false) => ({ name, hotpluggable: true, persistentVolumeClaim: { claimName }, ...(readOnly ? { readOnly } : {}) });
const running: VmStatus = { printableStatus: 'Running' };

describe('claimConflicts', () => {
  const me = vm('web', [hot('data', 'shared')], running);

  it.each([
    ['a running VM booting from the claim', vm('db', [{ name: 'root', persistentVolumeClaim: { claimName: 'shared' } }], running), { shared: 'db' }],
    ['a VM that has it attached', vm('zz', [hot('d', 'shared')], { printableStatus: 'Running', disks: [{ name: 'd', phase: 'Attached' }] }), { shared: 'zz' }],
    ['a stopped VM', vm('db', [{ name: 'root', persistentVolumeClaim: { claimName: 'shared' } }], { printableStatus: 'Stopped' }), {}],
    ['a VM reading it only', vm('db', [{ name: 'root', readOnly: true, persistentVolumeClaim: { claimName: 'shared' } }], running), {}],
    ['a VM in another namespace', { ...vm('db', [{ name: 'root', persistentVolumeClaim: { claimName: 'shared' } }], running), metadata: { name: 'db', namespace: 'other' } }, {}],
    ['a VM also waiting for it, first by name', vm('api', [hot('d', 'shared')], running), { shared: 'api' }],
    ['a VM also waiting for it, later by name', vm('zz', [hot('d', 'shared')], running), {}],
  ])('%s', (_name, other, expected) => {
    expect(claimConflicts(me, [me, other])).toEqual(expected);
  });

  it('a VM already holding the claim keeps it against a waiting VM earlier by name', () => {
    const holding = vm('web', [hot('data', 'shared')], { printableStatus: 'Running', disks: [{ name: 'data', phase: 'Attached' }] });
    expect(claimConflicts(holding, [holding, vm('api', [hot('d', 'shared')], running)])).toEqual({});
  });

  it('a read-only disk conflicts with nobody', () => {
    const reader = vm('web', [hot('data', 'shared', true)], running);
    expect(claimConflicts(reader, [reader, vm('db', [{ name: 'root', persistentVolumeClaim: { claimName: 'shared' } }], running)])).toEqual({});
  });
});

describe('attachmentsOf and pvcInfo', () => {
  it('finds the VM attachment pods by label, and a PVC size from its capacity or request', () => {
    const web = { ...vm('web', []), metadata: { name: 'web', namespace: 'team', uid: 'uid-web' } };
    const ownerReferences = [{ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', name: 'web', uid: 'uid-web', controller: true }];
    const pod = (vmName: string, disk: string, ns = 'team') => ({ metadata: { name: `${vmName}-hotplug-${disk}`, namespace: ns, labels: { 'kubevmm.io/vm': vmName, 'kubevmm.io/disk': disk }, ownerReferences }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    const planted = { metadata: { name: 'web-hotplug-z', namespace: 'team', labels: { 'kubevmm.io/vm': 'web', 'kubevmm.io/disk': 'z' } }, status: { phase: 'Running' } };
    expect(attachmentsOf(web, [pod('web', 'data'), pod('db', 'x'), pod('web', 'y', 'other'), planted, { metadata: { namespace: 'team', labels: { 'kubevmm.io/vm': 'web' } } }])).toEqual({
      data: { ready: true, deleting: false },
      // Right name and labels, but not owned by the VM: kept apart, never used.
      z: { ready: false, deleting: false, foreign: expect.stringMatching(/pod team\/web-hotplug-z exists but kubevmm did not create it/) },
    });
    expect(pvcInfo({ spec: { volumeMode: 'Block', resources: { requests: { storage: '1Gi' } } }, status: { capacity: { storage: '2Gi' } } })).toEqual({ mode: 'Block', sizeBytes: 2 * 2 ** 30 });
    expect(pvcInfo({ spec: { resources: { requests: { storage: '1Gi' } } } })).toEqual({ mode: 'Filesystem', sizeBytes: 2 ** 30 });
  });

  it('tells an evicted or Failed attachment pod, with its reason', () => {
    const labels = { 'kubevmm.io/vm': 'web', 'kubevmm.io/disk': 'data' };
    const web = { ...vm('web', []), metadata: { name: 'web', namespace: 'team', uid: 'uid-web' } };
    const ownerReferences = [{ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', name: 'web', uid: 'uid-web', controller: true }];
    const evicted = { metadata: { name: 'web-hotplug-data', namespace: 'team', labels, ownerReferences }, status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' } };
    expect(attachmentsOf(web, [evicted])).toEqual({ data: { ready: false, deleting: false, failed: 'Evicted: The node was low on resource: memory.' } });
  });
});
