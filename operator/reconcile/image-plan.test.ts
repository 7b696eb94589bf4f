import type { V1Pod } from '@kubernetes/client-node';
import { IMPORT_ANNOTATION, importTask, type ImporterStatus } from '../../api/contract/importer.js';
import type { VirtualMachineImage } from '../../api/schema/image.js';
import { GENERATION_ANNOTATION } from '../render/importer.js';
import { planImage, type ClaimFacts, type ImageObserved } from './image-plan.js';

const NOW = new Date('2026-12-06T04:00:00Z');
const SETTINGS = { launcherImage: 'kubevmm/launcher:test', pollMs: 2000, defaultSizeBytes: 10 * 2 ** 30 };

function image(overrides: Partial<VirtualMachineImage['spec']> = {}, status?: VirtualMachineImage['status'], generation = 1): VirtualMachineImage {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachineImage',
    metadata: { name: 'debian', namespace: 'team-a', uid: 'img-uid', generation },
    spec: { source: { http: { url: 'https://images.example/debian.qcow2' } }, storage: { size: '4Gi' }, ...overrides },
    ...(status ? { status } : {}),
  };
}

const CLAIM: ClaimFacts = { owned: true, mode: 'Filesystem', sizeBytes: 4 * 2 ** 30, storageClassName: 'fast', accessModes: ['ReadWriteOnce'] };

function importerPod(status: V1Pod['status'], generation = 1): V1Pod {
  return {
    metadata: { name: 'debian-importer', namespace: 'team-a', annotations: { [GENERATION_ANNOTATION]: String(generation) }, ownerReferences: [{ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', name: 'debian', uid: 'img-uid', controller: true }] },
    status,
  };
}

const ended = (phase: 'Succeeded' | 'Failed', message: string, exitCode = phase === 'Succeeded' ? 0 : 1) =>
  importerPod({ phase, containerStatuses: [{ name: 'importer', ready: false, restartCount: 0, image: 'x', imageID: 'x', state: { terminated: { exitCode, message } } }] });

const obs = (over: Partial<ImageObserved> = {}): ImageObserved => ({ image: image(), now: NOW, ...over });
const condition = (s: { conditions?: { type: string; status: string; reason: string; message: string }[] }, type: string) => s.conditions?.find((c) => c.type === type);

describe('planImage', () => {
  it('creates the image claim first, owned by the image, at spec.storage.size', () => {
    const plan = planImage(obs(), SETTINGS);
    expect(plan.status).toMatchObject({ phase: 'Pending', claimName: 'debian-image', progress: '0%' });
    const create = plan.actions[0];
    if (create?.kind !== 'createClaim') throw new Error(`expected createClaim, got ${create?.kind}`);
    expect(create.claim.metadata).toMatchObject({ name: 'debian-image', namespace: 'team-a', ownerReferences: [expect.objectContaining({ kind: 'VirtualMachineImage', uid: 'img-uid', controller: true })] });
    expect(create.claim.spec).toMatchObject({ resources: { requests: { storage: '4Gi' } }, volumeMode: 'Filesystem', accessModes: ['ReadWriteOnce'] });
  });

  it('defaults the claim size when the spec gives none, and from a pvc source claim', () => {
    const noSize = planImage(obs({ image: image({ storage: {} }) }), SETTINGS).actions[0];
    expect(noSize?.kind === 'createClaim' && noSize.claim.spec?.resources?.requests?.storage).toBe('10Gi');
    const fromPvc = planImage(obs({ image: image({ source: { pvc: { name: 'golden' } }, storage: {} }), sourceClaim: { ...CLAIM, owned: false, sizeBytes: 3 * 2 ** 30 } }), SETTINGS).actions[0];
    expect(fromPvc?.kind === 'createClaim' && fromPvc.claim.spec?.resources?.requests?.storage).toBe('3Gi');
  });

  it('never adopts a claim of that name that kubevmm did not create: Failed naming it, nothing created', () => {
    const plan = planImage(obs({ claim: { ...CLAIM, owned: false } }), SETTINGS);
    expect(plan.actions).toEqual([]);
    expect(plan.status.phase).toBe('Failed');
    expect(condition(plan.status, 'Failure')).toMatchObject({ status: 'True', reason: 'ClaimConflict', message: expect.stringContaining('PersistentVolumeClaim debian-image exists and kubevmm did not create it') });
    expect(plan.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'ClaimConflict' })]);
    expect(plan.requeueAfterMs).toBe(2000);
  });

  it('starts one importer pod with the http task, the claim as target and the usable capacity', () => {
    const plan = planImage(obs({ image: image({ source: { http: { url: 'https://images.example/d.qcow2', sha256: 'a'.repeat(64) } } }), claim: CLAIM }), SETTINGS);
    expect(plan.actions.map((a) => a.kind)).toEqual(['createImporter']);
    const pod = plan.actions[0]?.kind === 'createImporter' ? plan.actions[0].pod : undefined;
    const task = importTask.parse(JSON.parse(pod?.metadata?.annotations?.[IMPORT_ANNOTATION] ?? '{}'));
    expect(task).toEqual({ source: { kind: 'http', url: 'https://images.example/d.qcow2', sha256: 'a'.repeat(64) }, target: { mode: 'Filesystem', capacityBytes: Math.floor(4 * 2 ** 30 * 0.945) } });
    expect(pod?.metadata?.annotations?.[GENERATION_ANNOTATION]).toBe('1');
    expect(plan.status).toMatchObject({ phase: 'Pending', importerPod: 'debian-importer' });
  });

  it('copies a registry image through an init container and a pvc source from the claim, read-only', () => {
    const reg = planImage(obs({ image: image({ source: { registry: { image: 'registry.example/os:1' } } }), claim: CLAIM }), SETTINGS).actions[0];
    const pod = reg?.kind === 'createImporter' ? reg.pod : undefined;
    expect(pod?.spec?.initContainers?.map((c) => c.image)).toEqual(['kubevmm/launcher:test', 'registry.example/os:1']);
    expect(JSON.parse(pod?.metadata?.annotations?.[IMPORT_ANNOTATION] ?? '{}').source).toEqual({ kind: 'file', path: '/var/run/kubevmm/import/scratch/registry-disk' });
    const pvc = planImage(obs({ image: image({ source: { pvc: { name: 'golden' } } }), claim: CLAIM, sourceClaim: { ...CLAIM, mode: 'Block', owned: false } }), SETTINGS).actions[0];
    const copy = pvc?.kind === 'createImporter' ? pvc.pod : undefined;
    expect(copy?.spec?.volumes).toContainEqual({ name: 'source', persistentVolumeClaim: { claimName: 'golden', readOnly: true } });
    expect(copy?.spec?.containers[0]?.volumeDevices).toContainEqual({ name: 'source', devicePath: '/dev/kubevmm/source' });
  });

  it('waits for a pvc source that does not exist, naming the namespace it looks in', () => {
    const missing = planImage(obs({ image: image({ source: { pvc: { name: 'golden' } } }), claim: CLAIM }), SETTINGS);
    expect(missing.actions).toEqual([]);
    expect(condition(missing.status, 'Ready')).toMatchObject({ reason: 'SourceClaimNotFound', message: expect.stringContaining('golden not found in namespace team-a') });
    const other = planImage(obs({ image: image({ source: { pvc: { name: 'golden', namespace: 'shared' } } }), claim: CLAIM, source: { stale: [] } }), SETTINGS);
    expect(other.status.phase).toBe('Pending');
    expect(condition(other.status, 'Ready')).toMatchObject({ reason: 'SourceClaimNotFound', message: expect.stringContaining('golden not found in namespace shared') });
  });

  it('reports progress while importing and asks again soon', () => {
    const seen: ImporterStatus = { phase: 'Downloading', bytesRead: 420, bytesTotal: 1000, percent: 42.7, checksumVerified: false, retries: 1, failure: { reason: 'HttpError', message: 'HTTP 503', permanent: false }, format: 'qcow2' };
    const plan = planImage(obs({ claim: CLAIM, pod: importerPod({ phase: 'Running', podIP: '10.0.0.9' }), importer: seen }), SETTINGS);
    expect(plan.actions).toEqual([]);
    expect(plan.status).toMatchObject({ phase: 'Importing', progress: '42%', format: 'qcow2', importerPod: 'debian-importer' });
    expect(condition(plan.status, 'Ready')?.message).toMatch(/retrying \(1 so far\) after HttpError: HTTP 503/);
    expect(plan.requeueAfterMs).toBe(2000);
  });

  it('an upload importer waiting for its bytes is Pending with the command to run', () => {
    const plan = planImage(obs({ image: image({ source: { upload: {} } }), claim: CLAIM, pod: importerPod({ phase: 'Running', podIP: '10.0.0.9' }), importer: { phase: 'Waiting', bytesRead: 0, percent: 0, checksumVerified: false, retries: 0 } }), SETTINGS);
    expect(plan.status.phase).toBe('Pending');
    expect(condition(plan.status, 'Ready')?.message).toContain('kubevmm image upload debian --file PATH');
  });

  it('a verified result makes the image Ready with format and size; the pod goes on the next pass', () => {
    const result = JSON.stringify({ format: 'vmdk', virtualSizeBytes: 2 * 2 ** 30, checksumVerified: true });
    const plan = planImage(obs({ claim: CLAIM, pod: ended('Succeeded', result) }), SETTINGS);
    expect(plan.actions).toEqual([]);
    expect(plan.status).toMatchObject({ phase: 'Ready', progress: '100%', format: 'vmdk', virtualSize: '2Gi', checksumVerified: true, observedGeneration: 1 });
    expect(plan.events).toEqual([expect.objectContaining({ type: 'Normal', reason: 'Imported' })]);
    const next = planImage(obs({ image: image({}, plan.status), claim: CLAIM, pod: ended('Succeeded', result) }), SETTINGS);
    expect(next.actions).toEqual([{ kind: 'deleteImporter', name: 'debian-importer' }]);
    expect(next.status.phase).toBe('Ready');
    expect(next.status.importerPod).toBeUndefined();
  });

  it('exit 0 without a valid result is never Ready', () => {
    const plan = planImage(obs({ claim: CLAIM, pod: ended('Succeeded', 'done!') }), SETTINGS);
    expect(plan.status.phase).toBe('Failed');
    expect(condition(plan.status, 'Failure')?.reason).toBe('ImportFailed');
  });

  it.each([
    ['NotFound: HTTP 404 from https://images.example/debian.qcow2', 'NotFound', 'HTTP 404 from https://images.example/debian.qcow2'],
    ['ChecksumMismatch: sha256 is 00ff, expected ab12', 'ChecksumMismatch', 'sha256 is 00ff, expected ab12'],
    ['ClaimTooSmall: the image needs 8Gi\nand the claim holds 4Gi', 'ClaimTooSmall', 'the image needs 8Gi and the claim holds 4Gi'],
    ['segfault', 'ImportFailed', 'segfault'],
  ])('a failure %j ends Failed with its reason, an Event, and no new import for the same spec', (message, reason, said) => {
    const plan = planImage(obs({ claim: CLAIM, pod: ended('Failed', message) }), SETTINGS);
    expect(plan.status.phase).toBe('Failed');
    expect(condition(plan.status, 'Failure')).toMatchObject({ status: 'True', reason, message: said });
    expect(plan.events).toEqual([{ type: 'Warning', reason, message: said }]);
    const after = planImage(obs({ image: image({}, plan.status), claim: CLAIM }), SETTINGS);
    expect(after.actions).toEqual([]);
    expect(after.status.phase).toBe('Failed');
  });

  it('a spec change replaces the importer of the old spec and imports again', () => {
    const failed = planImage(obs({ claim: CLAIM, pod: ended('Failed', 'NotFound: gone') }), SETTINGS).status;
    const changed = planImage(obs({ image: image({}, failed, 2), claim: CLAIM, pod: ended('Failed', 'NotFound: gone') }), SETTINGS);
    expect(changed.actions).toEqual([{ kind: 'deleteImporter', name: 'debian-importer' }]);
    expect(changed.status.phase).toBe('Pending');
    const fresh = planImage(obs({ image: image({}, changed.status, 2), claim: CLAIM }), SETTINGS);
    expect(fresh.actions.map((a) => a.kind)).toEqual(['createImporter']);
  });

  it('a deleted image deletes its running importer pod at once', () => {
    const deleting = { ...image(), metadata: { ...image().metadata, deletionTimestamp: NOW.toISOString() } };
    const plan = planImage(obs({ image: deleting, claim: CLAIM, pod: importerPod({ phase: 'Running' }) }), SETTINGS);
    expect(plan.actions).toEqual([{ kind: 'deleteImporter', name: 'debian-importer' }]);
  });

  it('a pod of that name the image does not own blocks the import, named', () => {
    const plan = planImage(obs({ claim: CLAIM, foreignPod: 'pod team-a/debian-importer exists but kubevmm did not create it' }), SETTINGS);
    expect(plan.actions).toEqual([]);
    expect(condition(plan.status, 'Failure')).toMatchObject({ reason: 'ImporterPodConflict' });
  });

  it('an importer that cannot pull its image says so while Pending', () => {
    const pod = importerPod({ phase: 'Pending', containerStatuses: [{ name: 'importer', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } }] });
    const plan = planImage(obs({ claim: CLAIM, pod }), SETTINGS);
    expect(plan.status.phase).toBe('Pending');
    expect(condition(plan.status, 'Ready')).toMatchObject({ reason: 'ImagePullBackOff', message: expect.stringContaining('Back-off pulling image') });
  });
});
