// A VirtualMachineImage in one namespace copying a claim of another (ADR 0019), against the
// real control plane: the operator starts a source pod in the claim's namespace (unprivileged,
// the claim read-only, its Secret owned by the pod), points the importer's task at that pod's
// IP, and deletes the source pod once the image is Ready or Failed, when the image is deleted
// (its finalizer waits for that), and when its image vanished while no operator ran. KWOK runs
// no containers: its pods get an IP and Running, the test plays the importer's verdict (pod
// status) and its progress (helpers/importer-standin.ts).
import { sourceTask } from '../../api/contract/claim-source.js';
import { importTask } from '../../api/contract/importer.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlaneWithCrds, type ControlPlane } from './helpers/control-plane.js';
import { startImporterStandin, type ImporterStandin } from './helpers/importer-standin.js';
import { createNamespace, getJson, kubectl, startOperator, waitFor as waitForAny, type OperatorProcess } from './helpers/operator-process.js';

let cp: ControlPlane;
let operator: OperatorProcess | undefined;
let importer: ImporterStandin;
const SUFFIX = Date.now().toString(36).slice(-5);
const GOLDEN = `golden-${SUFFIX}`;
const TEAM = `team-${SUFFIX}`;
const OPERATOR_ARGS = ['--no-leader-elect', '--accelerator', 'tcg', '--resync-seconds', '5', '--health-port', '0', '--webhook-port', '0'];
const pvs: string[] = [];

type Json = Record<string, any>;
const image = (name: string) => getJson<Json>(['virtualmachineimages.kubevmm.io', '-n', TEAM, name]);
const pod = (ns: string, name: string) => getJson<Json>(['pod', '-n', ns, name]);
const sourcePods = () => (getJson<{ items: Json[] }>(['pods', '-n', GOLDEN, '-l', 'kubevmm.io/source-for-uid'])?.items ?? []).filter((p) => !p.metadata.deletionTimestamp);
const sourceOf = (uid: string) => pod(GOLDEN, `kubevmm-source-${uid}`);
const condition = (obj: Json | undefined, type: string) => (obj?.status?.conditions ?? []).find((c: Json) => c.type === type);

/** A PersistentVolume for the claim `ns/name`, so pods using it can be scheduled. */
function volumeFor(ns: string, name: string, volumeMode: 'Filesystem' | 'Block' = 'Filesystem'): void {
  const pv = {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `${ns}-${name}` },
    spec: { capacity: { storage: '2Gi' }, volumeMode, accessModes: ['ReadWriteOnce'], storageClassName: '', hostPath: { path: `/tmp/${ns}/${name}` }, claimRef: { namespace: ns, name } },
  };
  kubectl(['apply', '-f', '-'], { input: JSON.stringify(pv) });
  pvs.push(pv.metadata.name);
}

function applyImage(name: string): string {
  volumeFor(TEAM, `${name}-image`);
  const body = { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineImage', metadata: { name, namespace: TEAM }, spec: { source: { pvc: { name: 'debian-golden', namespace: GOLDEN } }, storage: { size: '1Gi' } } };
  kubectl(['apply', '-f', '-'], { input: JSON.stringify(body) });
  return image(name)!.metadata.uid as string;
}

/** Plays the kubelet: the importer container ended with `message`. */
function endImporter(name: string, exitCode: number, message: string): void {
  const status = { status: { phase: exitCode === 0 ? 'Succeeded' : 'Failed', containerStatuses: [{ name: 'importer', image: 'l', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, message } } }] } };
  kubectl(['patch', 'pod', '-n', TEAM, name, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
}

function waitFor<T>(what: string, fn: () => T | undefined | false, ms = 90_000): Promise<T> {
  return waitForAny(what, fn, ms).catch((err: Error) => {
    throw new Error(`${err.message}\noperator log:\n${operator?.logs().slice(-4000)}`, { cause: err });
  });
}

beforeAll(async () => {
  cp = await useControlPlaneWithCrds();
  importer = await startImporterStandin();
  createNamespace(GOLDEN);
  createNamespace(TEAM);
  volumeFor(GOLDEN, 'debian-golden', 'Block');
  const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'debian-golden', namespace: GOLDEN }, spec: { accessModes: ['ReadWriteOnce'], volumeMode: 'Block', storageClassName: '', resources: { requests: { storage: '2Gi' } } } };
  kubectl(['apply', '-f', '-'], { input: JSON.stringify(claim) });
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  // Images carry the source finalizer: delete them while the operator runs.
  kubectl(['delete', 'virtualmachineimages.kubevmm.io', '--all', '-n', TEAM, '--wait=false'], { allowFail: true });
  if (operator) await waitFor('the suite’s images gone', () => !(getJson<Json>(['virtualmachineimages.kubevmm.io', '-n', TEAM])?.items ?? []).length, 60_000).catch(() => undefined);
  await operator?.stop();
  await importer?.close();
  for (const ns of [TEAM, GOLDEN]) kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFail: true });
  for (const pv of pvs) kubectl(['delete', 'pv', pv, '--wait=false'], { allowFail: true });
  await cp?.release();
});

describe('an image copying a claim of another namespace', () => {
  it('serves the claim from a source pod there, points the importer at it, and deletes it once Ready', async () => {
    operator = startOperator(OPERATOR_ARGS);
    const uid = applyImage('debian');
    await waitFor('the finalizer', () => image('debian')?.metadata.finalizers?.includes('kubevmm.io/source-cleanup'));
    const source = await waitFor('source pod', () => sourceOf(uid));
    expect(source.metadata.labels).toMatchObject({ 'kubevmm.io/source-for-image': 'debian', 'kubevmm.io/source-for-namespace': TEAM, 'kubevmm.io/source-for-uid': uid, 'app.kubernetes.io/name': 'kubevmm-image-source' });
    expect(sourceTask.parse(JSON.parse(source.metadata.annotations['kubevmm.io/source']))).toEqual({ imageUid: uid, mode: 'Block' });
    expect(source.spec).toMatchObject({ automountServiceAccountToken: false, securityContext: { runAsNonRoot: true, runAsUser: 107 } });
    expect(source.spec.containers[0]).toMatchObject({ args: ['serve-source'], securityContext: { readOnlyRootFilesystem: true }, volumeDevices: [{ name: 'claim', devicePath: '/dev/kubevmm/source' }] });
    expect(source.spec.volumes).toContainEqual({ name: 'claim', persistentVolumeClaim: { claimName: 'debian-golden', readOnly: true } });
    const secret = await waitFor('the source pod’s Secret', () => getJson<Json>(['secret', '-n', GOLDEN, `kubevmm-source-${uid}-credentials`]));
    expect(secret.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Pod', name: `kubevmm-source-${uid}`, uid: source.metadata.uid })]);
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);

    const running = await waitFor('source pod running', () => sourceOf(uid)?.status?.podIP && sourceOf(uid));
    const created = await waitFor('importer pod', () => pod(TEAM, 'debian-importer'));
    const task = importTask.parse(JSON.parse(created.metadata.annotations['kubevmm.io/import']));
    expect(task.source).toEqual({ kind: 'claim', url: `https://${running.status.podIP}:9502/disk`, serverName: `${uid}.source.kubevmm.invalid`, mode: 'Block' });
    expect(created.spec.volumes.map((v: Json) => v.name)).not.toContain('source');
    const credentials = getJson<Json>(['secret', '-n', TEAM, 'debian-importer-credentials']);
    expect(Object.keys(credentials?.data ?? {})).toEqual(expect.arrayContaining(['client.crt', 'client.key']));

    // The source pod goes away under a running importer: both start over, the new importer at the new source pod.
    await waitFor('importer running', () => pod(TEAM, 'debian-importer')?.status?.phase === 'Running');
    kubectl(['delete', 'pod', '-n', GOLDEN, `kubevmm-source-${uid}`, '--wait=false']);
    const again = await waitFor('a new importer', () => pod(TEAM, 'debian-importer')?.metadata.uid !== created.metadata.uid && pod(TEAM, 'debian-importer'));
    const replaced = await waitFor('a new source pod running', () => sourceOf(uid)?.metadata.uid !== source.metadata.uid && sourceOf(uid)?.status?.podIP && sourceOf(uid));
    expect(importTask.parse(JSON.parse(again.metadata.annotations['kubevmm.io/import'])).source).toMatchObject({ url: `https://${replaced.status.podIP}:9502/disk` });

    importer.status.set('debian', { phase: 'Downloading', bytesRead: 300, bytesTotal: 1000, percent: 24, checksumVerified: false, retries: 0 });
    await waitFor('Importing 24%', () => image('debian')?.status?.progress === '24%');
    endImporter('debian-importer', 0, JSON.stringify({ format: 'raw', virtualSizeBytes: 2 ** 29, checksumVerified: false }));
    await waitFor('Ready', () => image('debian')?.status?.phase === 'Ready');
    await waitFor('source pod deleted after Ready', () => !sourceOf(uid));
    await waitFor('its Secret collected with it', () => !getJson<Json>(['secret', '-n', GOLDEN, `kubevmm-source-${uid}-credentials`]));
  }, 300_000);

  it('deletes the source pod when the import fails', async () => {
    operator ??= startOperator(OPERATOR_ARGS);
    const uid = applyImage('broken');
    await waitFor('source pod running', () => sourceOf(uid)?.status?.podIP);
    await waitFor('importer pod', () => pod(TEAM, 'broken-importer'));
    endImporter('broken-importer', 1, 'NotADiskImage: the source is plain text, not a disk image');
    const failed = await waitFor('Failed', () => image('broken')?.status?.phase === 'Failed' && image('broken'));
    expect(condition(failed, 'Failure')).toMatchObject({ reason: 'NotADiskImage' });
    await waitFor('source pod deleted after Failed', () => !sourceOf(uid));
  }, 300_000);

  it('a deleted image waits for its source pod to go; one deleted while no operator ran is cleaned up at the next start', async () => {
    operator ??= startOperator(OPERATOR_ARGS);
    const uid = applyImage('gone');
    await waitFor('source pod', () => sourceOf(uid));
    kubectl(['delete', 'virtualmachineimages.kubevmm.io', '-n', TEAM, 'gone', '--wait=false']);
    await waitFor('source pod deleted with its image', () => !sourceOf(uid));
    await waitFor('the image gone once its finalizer was removed', () => !image('gone'));

    const orphanUid = applyImage('orphan');
    await waitFor('source pod', () => sourceOf(orphanUid));
    await operator.stop();
    operator = undefined;
    // Gone while no operator runs (its finalizer dropped by hand): nothing but the labels names the source pod's image now.
    kubectl(['patch', 'virtualmachineimages.kubevmm.io', '-n', TEAM, 'orphan', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    kubectl(['delete', 'virtualmachineimages.kubevmm.io', '-n', TEAM, 'orphan']);
    expect(sourceOf(orphanUid)).toBeDefined();
    operator = startOperator(OPERATOR_ARGS);
    await waitFor('orphaned source pod deleted after the restart', () => !sourceOf(orphanUid));
    expect(sourcePods().map((p) => p.metadata.name)).toEqual([]);
  }, 300_000);
});
