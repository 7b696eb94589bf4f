import type { V1Pod } from '@kubernetes/client-node';
import { IMPORT_ANNOTATION } from '../../api/contract/importer.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { GENERATION_ANNOTATION } from '../render/importer.js';
import { CLONE_ANNOTATION, cloneDecision } from './clone.js';
import { planImageDisks, type ImageDiskObserved } from './image-disks.js';
import type { ClaimFacts } from './image-plan.js';

const SETTINGS = { launcherImage: 'kubevmm/launcher:test' };
const GI = 2 ** 30;

function vm(image: { name: string; size?: string; storageClassName?: string; retain?: boolean } = { name: 'debian' }): VirtualMachine {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'web', namespace: 'team-a', uid: 'vm-uid', generation: 3 },
    spec: { memory: { guest: '1Gi' }, disks: [{ name: 'root', image }] },
  };
}

const IMAGE_CLAIM: ClaimFacts = { owned: true, mode: 'Filesystem', sizeBytes: 4 * GI, storageClassName: 'fast', accessModes: ['ReadWriteOnce'] };
const READY = { phase: 'Ready' };
const CSI = { name: 'fast', provisioner: 'csi.example.com', annotations: { [CLONE_ANNOTATION]: 'true' } };
const disk = (over: Partial<ImageDiskObserved> = {}): ImageDiskObserved => ({ disk: 'root', ...over });
const blank = { ...IMAGE_CLAIM, populated: false };

function copyPod(phase: string, message = '', generation = 3): V1Pod {
  return {
    metadata: { name: 'web-copy-root', annotations: { [GENERATION_ANNOTATION]: String(generation) } },
    status: { phase, containerStatuses: [{ name: 'importer', ready: false, restartCount: 0, image: 'x', imageID: 'x', ...(phase === 'Running' ? {} : { state: { terminated: { exitCode: phase === 'Succeeded' ? 0 : 1, message } } }) }] },
  };
}

describe('cloneDecision', () => {
  it.each([
    [{ sourceClass: 'fast', storageClass: CSI }, true, ''],
    [{ sourceClass: 'fast', wantedClass: 'fast', storageClass: CSI }, true, ''],
    [{ sourceClass: 'fast', wantedClass: 'slow', storageClass: CSI }, false, 'stays in its source'],
    [{ sourceClass: 'fast' }, false, 'could not be read'],
    [{ sourceClass: 'fast', storageClass: { ...CSI, annotations: {} } }, false, 'does not say its driver clones'],
    [{ sourceClass: 'fast', storageClass: { ...CSI, provisioner: 'kubernetes.io/aws-ebs' } }, false, 'in-tree provisioner'],
    [{ storageClass: CSI }, false, 'no StorageClass'],
    [{ sourceClass: 'fast', storageClass: { ...CSI, name: 'other' } }, false, 'could not be read'],
  ])('%j -> clone %s', (input, clone, why) => {
    const decision = cloneDecision(input);
    expect(decision.clone).toBe(clone);
    if (!decision.clone) expect(decision.why).toContain(why);
  });
});

describe('planImageDisks', () => {
  it('waits, named, for an image that does not exist or is not Ready, and creates nothing', () => {
    const missing = planImageDisks(vm(), [disk()], SETTINGS);
    expect(missing.actions).toEqual([]);
    expect(missing.disks[0]).toMatchObject({ ready: false, failed: false, reason: 'ImageNotFound', message: expect.stringContaining('VirtualMachineImage debian not found in namespace team-a') });
    const importing = planImageDisks(vm(), [disk({ image: { phase: 'Importing', progress: '42%' } })], SETTINGS);
    expect(importing.disks[0]).toMatchObject({ reason: 'ImageNotReady', message: expect.stringContaining('Importing, 42%') });
    const failed = planImageDisks(vm(), [disk({ image: { phase: 'Failed', failure: 'HTTP 404' } })], SETTINGS);
    expect(failed.disks[0]?.message).toContain('is Failed: HTTP 404');
  });

  it('clones where the StorageClass says its CSI driver can, owned by the VM', () => {
    const plan = planImageDisks(vm({ name: 'debian', size: '8Gi' }), [disk({ image: READY, imageClaim: IMAGE_CLAIM, storageClass: CSI })], SETTINGS);
    const action = plan.actions[0];
    if (action?.kind !== 'createDiskClaim') throw new Error(`expected createDiskClaim, got ${action?.kind}`);
    expect(action.claim.metadata).toMatchObject({ name: 'web-root', annotations: { 'kubevmm.io/created-for': 'vm-uid', 'kubevmm.io/populated': 'clone' }, ownerReferences: [expect.objectContaining({ kind: 'VirtualMachine', uid: 'vm-uid', controller: true })] });
    expect(action.claim.spec).toMatchObject({ dataSource: { kind: 'PersistentVolumeClaim', name: 'debian-image' }, storageClassName: 'fast', resources: { requests: { storage: '8Gi' } } });
    expect(plan.disks[0]?.message).toContain('as a CSI clone');
  });

  it('otherwise creates a blank claim to copy into, saying why; retain leaves the owner reference out', () => {
    const plan = planImageDisks(vm({ name: 'debian', retain: true }), [disk({ image: READY, imageClaim: IMAGE_CLAIM, storageClass: { ...CSI, annotations: {} } })], SETTINGS);
    const action = plan.actions[0];
    if (action?.kind !== 'createDiskClaim') throw new Error('expected createDiskClaim');
    expect(action.claim.spec?.dataSource).toBeUndefined();
    expect(action.claim.metadata?.ownerReferences).toBeUndefined();
    expect(action.claim.metadata?.annotations).toEqual({ 'kubevmm.io/created-for': 'vm-uid' });
    expect(plan.disks[0]?.message).toMatch(/to copy into \(StorageClass fast does not say/);
  });

  it('refuses a size below the image claim, and a claim of that name kubevmm did not create', () => {
    const small = planImageDisks(vm({ name: 'debian', size: '1Gi' }), [disk({ image: READY, imageClaim: IMAGE_CLAIM })], SETTINGS);
    expect(small.actions).toEqual([]);
    expect(small.disks[0]).toMatchObject({ failed: true, reason: 'DiskTooSmall' });
    const foreign = planImageDisks(vm(), [disk({ image: READY, imageClaim: IMAGE_CLAIM, claim: { ...blank, owned: false } })], SETTINGS);
    expect(foreign.actions).toEqual([]);
    expect(foreign.disks[0]).toMatchObject({ failed: true, reason: 'ClaimConflict', message: expect.stringContaining('PersistentVolumeClaim web-root exists and kubevmm did not create it') });
  });

  it('fills a blank claim with a copy pod reading the image claim read-only', () => {
    const plan = planImageDisks(vm(), [disk({ image: READY, imageClaim: IMAGE_CLAIM, claim: blank })], SETTINGS);
    const action = plan.actions[0];
    if (action?.kind !== 'createCopyPod') throw new Error('expected createCopyPod');
    const pod = action.pod;
    expect(pod.metadata).toMatchObject({ name: 'web-copy-root', labels: expect.objectContaining({ 'kubevmm.io/vm': 'web', 'kubevmm.io/copy-disk': 'root' }) });
    expect(pod.metadata?.labels?.['kubevmm.io/disk']).toBeUndefined(); // that label marks attachment pods
    expect(JSON.parse(pod.metadata?.annotations?.[IMPORT_ANNOTATION] ?? '{}')).toEqual({ source: { kind: 'file', path: '/var/run/kubevmm/import/source/disk.img' }, target: { mode: 'Filesystem', capacityBytes: Math.floor(4 * GI * 0.945) }, compare: false });
    expect(pod.spec?.volumes).toEqual(expect.arrayContaining([
      { name: 'source', persistentVolumeClaim: { claimName: 'debian-image', readOnly: true } },
      { name: 'target', persistentVolumeClaim: { claimName: 'web-root', readOnly: false } },
      expect.objectContaining({ name: 'credentials', secret: expect.objectContaining({ secretName: 'web-launcher-credentials' }) }),
    ]));
    expect(plan.disks[0]).toMatchObject({ ready: false, reason: 'Copying' });
  });

  it('marks the claim populated when the copy succeeded, then deletes the copy pod; the disk is then ready', () => {
    const done = planImageDisks(vm(), [disk({ image: READY, imageClaim: IMAGE_CLAIM, claim: blank, copyPod: copyPod('Succeeded', '{"format":"raw","virtualSizeBytes":1073741824,"checksumVerified":false}') })], SETTINGS);
    expect(done.actions).toEqual([{ kind: 'markPopulated', claimName: 'web-root' }]);
    expect(done.disks[0]?.ready).toBe(false);
    const ready = planImageDisks(vm(), [disk({ claim: { ...blank, populated: true }, copyPod: copyPod('Succeeded') })], SETTINGS);
    expect(ready.actions).toEqual([{ kind: 'deleteCopyPod', name: 'web-copy-root' }]);
    expect(ready.disks[0]?.ready).toBe(true);
  });

  it('a failed copy is reported until the spec changes, then tried again', () => {
    const failed = planImageDisks(vm(), [disk({ image: READY, imageClaim: IMAGE_CLAIM, claim: blank, copyPod: copyPod('Failed', 'ClaimTooSmall: needs 8Gi') })], SETTINGS);
    expect(failed.actions).toEqual([]);
    expect(failed.disks[0]).toMatchObject({ failed: true, reason: 'CopyFailed', message: expect.stringContaining('ClaimTooSmall: needs 8Gi') });
    const retried = planImageDisks(vm(), [disk({ image: READY, imageClaim: IMAGE_CLAIM, claim: blank, copyPod: copyPod('Failed', 'ClaimTooSmall: needs 8Gi', 2) })], SETTINGS);
    expect(retried.actions).toEqual([{ kind: 'deleteCopyPod', name: 'web-copy-root' }]);
  });

  it('never touches a copy pod it does not own', () => {
    const plan = planImageDisks(vm(), [disk({ image: READY, imageClaim: IMAGE_CLAIM, claim: blank, foreignCopyPod: 'pod team-a/web-copy-root exists but kubevmm did not create it' })], SETTINGS);
    expect(plan.actions).toEqual([]);
    expect(plan.disks[0]).toMatchObject({ failed: true, reason: 'CopyPodConflict' });
  });
});
