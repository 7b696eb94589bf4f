import type { V1Pod } from '@kubernetes/client-node';
import { SOURCE_ANNOTATION, sourceTask } from '../../api/contract/claim-source.js';
import { IMPORT_ANNOTATION, importTask } from '../../api/contract/importer.js';
import type { VirtualMachineImage } from '../../api/schema/image.js';
import { GENERATION_ANNOTATION } from '../render/importer.js';
import { planImage, type ClaimFacts, type ImageAction, type ImageObserved } from './image-plan.js';
import { SOURCE_FINALIZER, type SourceObserved } from './image-source.js';

// A VirtualMachineImage in team-b copying claim golden of namespace shared (ADR 0019).
const NOW = new Date('2026-12-06T04:00:00Z');
const SETTINGS = { launcherImage: 'kubevmm/launcher:test', pollMs: 2000, defaultSizeBytes: 10 * 2 ** 30 };
const UID = '0b7e2f4c-1111-4222-8333-944455556666';
const SOURCE_POD = `kubevmm-source-${UID}`;
const CLAIM: ClaimFacts = { owned: true, mode: 'Filesystem', sizeBytes: 4 * 2 ** 30, accessModes: ['ReadWriteOnce'] };
const GOLDEN: ClaimFacts = { owned: false, mode: 'Block', sizeBytes: 3 * 2 ** 30, accessModes: ['ReadWriteOnce'] };

function image(meta: Partial<VirtualMachineImage['metadata']> = {}, status?: VirtualMachineImage['status']): VirtualMachineImage {
  return {
    apiVersion: 'kubevmm.io/v1alpha1',
    kind: 'VirtualMachineImage',
    metadata: { name: 'debian', namespace: 'team-b', uid: UID, generation: 1, finalizers: [SOURCE_FINALIZER], ...meta },
    spec: { source: { pvc: { name: 'golden', namespace: 'shared' } }, storage: { size: '4Gi' } },
    ...(status ? { status } : {}),
  };
}

function sourcePod(status: V1Pod['status'], over: { generation?: number; deleting?: boolean; uid?: string } = {}): V1Pod {
  return {
    metadata: {
      name: SOURCE_POD,
      namespace: 'shared',
      uid: 'pod-uid',
      labels: { 'kubevmm.io/source-for-uid': over.uid ?? UID },
      annotations: { [GENERATION_ANNOTATION]: String(over.generation ?? 1) },
      ...(over.deleting ? { deletionTimestamp: NOW } : {}),
    },
    status,
  };
}

const RUNNING = sourcePod({ phase: 'Running', podIP: '10.0.3.7' });

function importer(phase: string, url = 'https://10.0.3.7:9502/disk', message?: string): V1Pod {
  const task = { source: { kind: 'claim', url, serverName: `${UID}.source.kubevmm.invalid`, mode: 'Block' }, target: { mode: 'Filesystem', capacityBytes: 1 } };
  const terminated = message === undefined ? {} : { containerStatuses: [{ name: 'importer', ready: false, restartCount: 0, image: 'x', imageID: 'x', state: { terminated: { exitCode: phase === 'Succeeded' ? 0 : 1, message } } }] };
  return {
    metadata: { name: 'debian-importer', namespace: 'team-b', annotations: { [GENERATION_ANNOTATION]: '1', [IMPORT_ANNOTATION]: JSON.stringify(task) }, ownerReferences: [{ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', name: 'debian', uid: UID, controller: true }] },
    status: { phase, podIP: '10.0.9.9', ...terminated },
  };
}

function plan(over: Partial<ImageObserved> & { source?: SourceObserved } = {}) {
  return planImage({ image: image(), claim: CLAIM, sourceClaim: GOLDEN, source: { stale: [] }, now: NOW, ...over }, SETTINGS);
}

const kinds = (actions: ImageAction[]) => actions.map((a) => a.kind);
const reason = (p: ReturnType<typeof plan>) => p.status.conditions?.find((c) => c.type === 'Ready')?.reason;

describe('planImage, a pvc source in another namespace', () => {
  it('adds its finalizer first, then starts a source pod in the claim’s namespace, and no importer yet', () => {
    const p = plan({ image: image({ finalizers: [] }) });
    expect(kinds(p.actions)).toEqual(['addFinalizer', 'createSource']);
    const pod = p.actions[1]?.kind === 'createSource' ? p.actions[1].pod : undefined;
    expect(pod?.metadata).toMatchObject({ name: SOURCE_POD, namespace: 'shared', labels: { 'kubevmm.io/source-for-image': 'debian', 'kubevmm.io/source-for-namespace': 'team-b', 'kubevmm.io/source-for-uid': UID } });
    expect(pod?.metadata?.ownerReferences).toBeUndefined();
    expect(sourceTask.parse(JSON.parse(pod?.metadata?.annotations?.[SOURCE_ANNOTATION] ?? '{}'))).toEqual({ imageUid: UID, mode: 'Block' });
    expect(pod?.spec).toMatchObject({ automountServiceAccountToken: false, securityContext: { runAsNonRoot: true, runAsUser: 107 } });
    expect(pod?.spec?.containers[0]).toMatchObject({ args: ['serve-source'], securityContext: { readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }, volumeDevices: [{ name: 'claim', devicePath: '/dev/kubevmm/source' }] });
    expect(pod?.spec?.volumes).toContainEqual({ name: 'claim', persistentVolumeClaim: { claimName: 'golden', readOnly: true } });
    expect(p.status.phase).toBe('Pending');
    expect(reason(p)).toBe('SourceStarting');
    expect(p.requeueAfterMs).toBe(2000);
  });

  it.each([
    ['scheduled, no IP yet', sourcePod({ phase: 'Pending' }), 'SourceStarting', /source pod shared\/kubevmm-source-.* is starting/],
    ['its image cannot be pulled', sourcePod({ phase: 'Pending', containerStatuses: [{ name: 'source', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason: 'ImagePullBackOff', message: 'no such image' } } }] }), 'ImagePullBackOff', /no such image/],
  ])('waits while the source pod is %s, and makes sure its credentials exist', (_what, pod, why, message) => {
    const p = plan({ source: { pod, stale: [] } });
    expect(p.actions).toEqual([{ kind: 'ensureSourceCredentials', pod: { namespace: 'shared', name: SOURCE_POD, uid: 'pod-uid' } }]);
    expect(reason(p)).toBe(why);
    expect(p.status.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(message);
  });

  it('starts the importer once the source pod runs: a claim task at its IP, its client certificate, no claim of the other namespace mounted', () => {
    const p = plan({ source: { pod: RUNNING, stale: [] } });
    expect(kinds(p.actions)).toEqual(['createImporter']);
    const action = p.actions[0];
    if (action?.kind !== 'createImporter') throw new Error('expected createImporter');
    expect(action.claimCopy).toBe(true);
    const task = importTask.parse(JSON.parse(action.pod.metadata?.annotations?.[IMPORT_ANNOTATION] ?? '{}'));
    expect(task.source).toEqual({ kind: 'claim', url: 'https://10.0.3.7:9502/disk', serverName: `${UID}.source.kubevmm.invalid`, mode: 'Block' });
    expect(action.pod.spec?.volumes?.map((v) => v.name)).not.toContain('source');
    const credentials = action.pod.spec?.volumes?.find((v) => v.name === 'credentials');
    expect(credentials?.secret?.items?.map((i) => i.key)).toEqual(['tls.crt', 'tls.key', 'ca.crt', 'client.crt', 'client.key']);
  });

  it('brackets an IPv6 source address', () => {
    const p = plan({ source: { pod: sourcePod({ phase: 'Running', podIP: 'fd00::3:7' }), stale: [] } });
    const action = p.actions[0];
    expect(action?.kind === 'createImporter' && JSON.parse(action.pod.metadata?.annotations?.[IMPORT_ANNOTATION] ?? '{}').source.url).toBe('https://[fd00::3:7]:9502/disk');
  });

  it.each([
    ['gone', undefined, /the source pod is gone/],
    ['restarted elsewhere', sourcePod({ phase: 'Running', podIP: '10.0.3.8' }), /now serves at https:\/\/10\.0\.3\.8:9502\/disk, not https:\/\/10\.0\.3\.7:9502\/disk/],
  ])('restarts a running importer whose source pod is %s', (_what, pod, message) => {
    const p = plan({ pod: importer('Running'), source: { ...(pod ? { pod } : {}), stale: [] } });
    expect(p.actions).toEqual([{ kind: 'deleteImporter', name: 'debian-importer' }]);
    expect(reason(p)).toBe('SourceRestarted');
    expect(p.status.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(message);
  });

  it('keeps a running importer whose source pod still serves where its task says', () => {
    expect(plan({ pod: importer('Running'), source: { pod: RUNNING, stale: [] } }).actions).toEqual([]);
  });

  it.each([
    ['Ready', { phase: 'Ready' as const, observedGeneration: 1 }],
    ['Failed', { phase: 'Failed' as const, observedGeneration: 1 }],
  ])('once %s is in status, deletes the importer and the source pod (its Secret goes with it)', (_phase, status) => {
    const p = plan({ image: image({}, status), pod: importer('Succeeded', undefined, '{}'), source: { pod: RUNNING, stale: [] } });
    expect(p.actions).toEqual([
      { kind: 'deleteImporter', name: 'debian-importer' },
      { kind: 'deleteSource', namespace: 'shared', name: SOURCE_POD },
    ]);
  });

  it('writes the verdict before anything is deleted, and never Ready from an importer that exited 0 without a result', () => {
    const ok = plan({ pod: importer('Succeeded', undefined, JSON.stringify({ format: 'raw', virtualSizeBytes: 2 ** 30, checksumVerified: false })), source: { pod: RUNNING, stale: [] } });
    expect(ok.actions).toEqual([]);
    expect(ok.status.phase).toBe('Ready');
    const bad = plan({ pod: importer('Succeeded', undefined, 'done'), source: { pod: RUNNING, stale: [] } });
    expect(bad.status.phase).toBe('Failed');
  });

  it('on deletion, deletes the source pod and keeps the finalizer until it is gone', () => {
    const deleting = image({ deletionTimestamp: NOW.toISOString() });
    const first = plan({ image: deleting, pod: importer('Running'), source: { pod: RUNNING, stale: [] } });
    expect(first.actions).toEqual([
      { kind: 'deleteImporter', name: 'debian-importer' },
      { kind: 'deleteSource', namespace: 'shared', name: SOURCE_POD },
    ]);
    expect(first.requeueAfterMs).toBe(2000);
    const going = plan({ image: deleting, source: { pod: sourcePod({ phase: 'Running' }, { deleting: true }), stale: [] } });
    expect(going.actions).toEqual([]);
    expect(plan({ image: deleting, source: { stale: [] } }).actions).toEqual([{ kind: 'removeFinalizer' }]);
  });

  it('deletes stale source pods (another UID: the image made again; another namespace: the source changed)', () => {
    const stale = [{ namespace: 'shared', name: 'kubevmm-source-old' }, { namespace: 'elsewhere', name: SOURCE_POD }];
    const p = plan({ source: { pod: RUNNING, stale } });
    expect(p.actions.slice(0, 2)).toEqual(stale.map((s) => ({ kind: 'deleteSource', ...s })));
  });

  it('replaces a source pod of an older spec, and drops the finalizer when the source is no longer in another namespace', () => {
    const old = plan({ image: image({ generation: 2 }), source: { pod: sourcePod({ phase: 'Running', podIP: '10.0.3.7' }, { generation: 1 }), stale: [] } });
    expect(old.actions).toEqual([{ kind: 'deleteSource', namespace: 'shared', name: SOURCE_POD }]);
    const local = planImage({ image: { ...image(), spec: { source: { pvc: { name: 'golden' } } } }, claim: CLAIM, sourceClaim: GOLDEN, source: { stale: [] }, now: NOW }, SETTINGS);
    expect(kinds(local.actions)).toEqual(['createImporter', 'removeFinalizer']);
  });
});
