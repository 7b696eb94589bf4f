import type { V1Pod } from '@kubernetes/client-node';
import { BOOT_DISKS_ANNOTATION, SPEC_HASH_ANNOTATION, STARTED_AT_ANNOTATION } from '../../api/layout.js';
import { podState, terminationOf } from '../reconcile/pod-state.js';
import { slimObject, slimPod } from './cache-view.js';

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:cpu': {} } } }];

function launcherPod(status: V1Pod['status']): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-launcher',
      namespace: 'team-a',
      uid: 'u1',
      resourceVersion: '7',
      creationTimestamp: new Date('2026-11-26T10:00:00Z'),
      labels: { 'kubevmm.io/vm': 'web' },
      // The resolved VM of a typical VM is several KB (8.8 KB pods were measured at scale).
      annotations: { [SPEC_HASH_ANNOTATION]: 'abc', 'kubevmm.io/vm': JSON.stringify({ big: 'x'.repeat(8000) }) },
      ownerReferences: [{ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', name: 'web', uid: 'vm-uid' }],
      managedFields,
    },
    spec: { nodeName: 'node-a', containers: [{ name: 'launcher', image: 'launcher:1', args: ['run', '--vm', '/x'] }], volumes: [{ name: 'podinfo' }, { name: 'disk-root', persistentVolumeClaim: { claimName: 'web-root' } }] },
    status,
  };
}

describe('slimPod', () => {
  it('keeps what decides a VM state: the same podState and termination as the whole pod', () => {
    const cases: V1Pod['status'][] = [
      { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] },
      { phase: 'Running', podIP: '10.0.0.7', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date() }] },
      { phase: 'Failed', containerStatuses: [{ name: 'launcher', ready: false, restartCount: 0, image: 'i', imageID: 'i', state: { terminated: { exitCode: 1, message: 'QemuFailed: exit 1' } } }] },
      { phase: 'Succeeded', message: 'done' },
      // What the kubelet says of a pod that does not start: an image pull, a failed copy.
      { phase: 'Pending', initContainerStatuses: [{ name: 'containerdisk-os', ready: false, restartCount: 0, image: 'i', imageID: '', state: { waiting: { reason: 'ErrImagePull', message: 'failed to pull "r/os:1": not found' } } }] },
      { phase: 'Failed', initContainerStatuses: [{ name: 'containerdisk-os', ready: false, restartCount: 0, image: 'i', imageID: '', state: { terminated: { exitCode: 1, message: 'no disk image in /disk' } } }] },
    ];
    for (const status of cases) {
      const pod = launcherPod(status);
      expect(podState(slimPod(pod))).toEqual(podState(pod));
      expect(terminationOf(slimPod(pod))).toEqual(terminationOf(pod));
    }
  });

  it('drops managedFields, the volumes and the resolved-VM annotation, keeps the annotations the planner reads, labels, owner and launcher image', () => {
    const whole = launcherPod({ phase: 'Running' });
    // kubevmm.io/import: a cross-namespace importer's task is checked against its source pod.
    const read = { [STARTED_AT_ANNOTATION]: '2026-11-26T10:00:00Z', [BOOT_DISKS_ANNOTATION]: 'root,cloudinit', 'kubevmm.io/restart-requested-at': '2026-11-26T09:00:00Z', 'kubevmm.io/import': '{"source":{"kind":"claim"}}' };
    whole.metadata!.annotations = { ...whole.metadata!.annotations, ...read };
    const slim = slimPod(whole);
    const { managedFields: _managed, annotations: _annotations, ...identity } = whole.metadata ?? {};
    expect(slim.metadata).toEqual({ ...identity, annotations: { [SPEC_HASH_ANNOTATION]: 'abc', ...read } });
    expect(slim.spec).toEqual({ nodeName: 'node-a', containers: [{ name: 'launcher', image: 'launcher:1' }], volumes: [{ name: 'disk-root', persistentVolumeClaim: { claimName: 'web-root' } }] });
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(whole).length / 10);
  });
});

describe('slimObject', () => {
  it('drops managedFields and kubectl last-applied copy, keeps spec, status and other annotations', () => {
    const vm = {
      apiVersion: 'kubevmm.io/v1alpha1',
      kind: 'VirtualMachine',
      metadata: { name: 'web', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{...}', team: 'a' }, managedFields },
      spec: { cpu: { cores: 2 } },
      status: { printableStatus: 'Running' },
    };
    expect(slimObject(vm)).toEqual({ ...vm, metadata: { name: 'web', annotations: { team: 'a' } } });
    expect(slimObject({ ...vm, metadata: { name: 'web', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } } }).metadata).toEqual({ name: 'web' });
  });
});
