// Declarative disk hotplug against the real control plane: editing spec.disks of a running VM
// creates an attachment pod on the VM's node (with its headless Service and the VM's PSK),
// asks the launcher to attach the export, reports status.disks and Events, refuses a claim
// another VM holds, detaches and cleans up on removal, and converges after an operator kill.
// The launcher is a stand-in speaking the control API (simulated pods run no QEMU); the
// launcher's real hotplug over NBD is tested in test/launcher/hotplug-nbd.test.ts.
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlaneWithCrds, type ControlPlane } from './helpers/control-plane.js';
import { startLauncherStandin, type LauncherStandin } from './helpers/launcher-standin.js';
import { createNamespace, getJson, kubectl, startOperator, waitFor as waitForAny, type OperatorProcess } from './helpers/operator-process.js';

let cp: ControlPlane;
let operator: OperatorProcess | undefined;
let launcher: LauncherStandin;
const NS = `hotplug-${Date.now().toString(36).slice(-5)}`;
const OPERATOR_ARGS = ['--no-leader-elect', '--accelerator', 'tcg', '--resync-seconds', '30', '--health-port', '0', '--webhook-port', '0'];

type Json = Record<string, any>;
const vm = (name = 'web') => getJson<Json>(['vm', '-n', NS, name]);
const disks = (name = 'web'): Json[] => vm(name)?.status?.disks ?? [];
const diskPhase = (disk: string, phase: string, name = 'web') => () => disks(name).find((d) => d.name === disk && d.phase === phase);
const pod = (name: string) => getJson<Json>(['pod', '-n', NS, name]);
const events = () => kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=web', '-o', 'jsonpath={.items[*].reason}']).stdout.split(' ');
const pvs: string[] = [];
const attachCalls = () => launcher.calls.filter((c) => c.method === 'POST' && c.path === '/disks');

/** A PVC bound to its own PersistentVolume, so pods using it can be scheduled. */
function pvc(name: string): void {
  const pv = {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `${NS}-${name}` },
    spec: { capacity: { storage: '2Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', hostPath: { path: `/tmp/${NS}/${name}` }, claimRef: { namespace: NS, name } },
  };
  const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: NS }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pv.metadata.name, resources: { requests: { storage: '2Gi' } } } };
  kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pv, claim] }) });
  pvs.push(pv.metadata.name);
}

function applyVm(name: string, extraDisks: Json[] = []): void {
  const spec = { cpu: { cores: 1 }, memory: { guest: '256Mi' }, disks: [{ name: 'root', emptyDisk: { capacity: '1Gi' } }, ...extraDisks] };
  kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', 'test', '-f', '-'], { input: JSON.stringify({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: NS }, spec }) });
}

/** waitFor, with the operator's last log lines and the VM's status when it times out. */
function waitFor<T>(what: string, fn: () => T | undefined | false, ms?: number): Promise<T> {
  return waitForAny(what, fn, ms).catch((err: Error) => {
    throw new Error(`${err.message}\nstatus: ${JSON.stringify(vm()?.status)}\noperator log:\n${operator?.logs().slice(-3000)}`, { cause: err });
  });
}

const hotplug = (name: string, claimName: string) => ({ name, hotpluggable: true, persistentVolumeClaim: { claimName } });

beforeAll(async () => {
  cp = await useControlPlaneWithCrds();
  launcher = await startLauncherStandin();
  createNamespace(NS);
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  await operator?.stop();
  await launcher?.close();
  kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFail: true });
  for (const pv of pvs) kubectl(['delete', 'pv', pv, '--wait=false'], { allowFail: true });
  await cp?.release();
});

describe('hotplug of PVC disks into a running VM', () => {
  it('attaches through an attachment pod on the VM node, reports status and events, and detaches cleanly', async () => {
    operator = startOperator(OPERATOR_ARGS);
    applyVm('web');
    // The operator writes the VM's credentials before its pod; the stand-in serves them.
    const secret = await waitFor('the VM Secret', () => getJson<Json>(['secret', '-n', NS, 'web-launcher-credentials']));
    const running = await waitFor('web Running', () => vm()?.status?.printableStatus === 'Running' && vm()!.status);
    expect(Buffer.from(secret.data['keys.psk'], 'base64').toString()).toMatch(/^kubevmm:[0-9a-f]{64}$/);

    // a disk whose PVC does not exist yet waits, named
    applyVm('web', [hotplug('data', 'web-data')]);
    const waiting = await waitFor('data Pending on its PVC', diskPhase('data', 'Pending'));
    expect(waiting.message).toMatch(/PersistentVolumeClaim web-data not found/);
    expect(pod('web-hotplug-data')).toBeUndefined();

    pvc('web-data');
    const attachment = await waitFor('attachment pod', () => pod('web-hotplug-data'), 60_000);
    expect(attachment.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0]).toEqual({ key: 'metadata.name', operator: 'In', values: [running.nodeName] });
    expect(attachment.spec.volumes).toEqual(expect.arrayContaining([
      { name: 'disk', persistentVolumeClaim: { claimName: 'web-data' } },
      expect.objectContaining({ name: 'psk', secret: expect.objectContaining({ secretName: 'web-launcher-credentials', items: [{ key: 'keys.psk', path: 'keys.psk' }] }) }),
    ]));
    expect(attachment.spec.containers[0].args).toEqual(expect.arrayContaining(['export', '--size', String(2 * 2 ** 30)]));
    expect(attachment.metadata.ownerReferences[0]).toMatchObject({ kind: 'VirtualMachine', name: 'web' });
    expect(getJson<Json>(['service', '-n', NS, 'hotplug-web'])?.spec.clusterIP).toBe('None');

    // PV binding and the scheduler's retry take a while on this control plane.
    const attached = await waitFor('data Attached', diskPhase('data', 'Attached'), 120_000);
    expect(attached.target).toBe('vdb');
    expect(attachCalls()).toEqual([expect.objectContaining({ authorized: true, client: 'kubevmm-operator', body: { name: 'data', nbd: { host: `disk-data.hotplug-web.${NS}.svc`, port: 10809, export: 'disk' }, bus: 'virtio', readOnly: false, cache: 'none' } })]);
    expect(vm()?.status?.printableStatus).toBe('Running');
    expect(vm()?.status?.conditions.find((c: Json) => c.type === 'RestartRequired')?.status).toBe('False');
    await waitFor('DiskAttached event', () => events().includes('DiskAttached'));

    // a second VM asking for the same claim read-write is refused, never attached twice
    applyVm('db', [hotplug('shared', 'web-data')]);
    const refused = await waitFor('db Running', () => vm('db')?.status?.printableStatus === 'Running' && diskPhase('shared', 'Failed', 'db')());
    expect(refused.message).toMatch(/PersistentVolumeClaim web-data is in read-write use by VirtualMachine web/);
    expect(pod('db-hotplug-shared')).toBeUndefined();
    kubectl(['delete', 'vm', '-n', NS, 'db', '--wait=false']);

    // removal: detached in the launcher, then the attachment pod goes
    applyVm('web');
    await waitFor('data gone from status', () => vm()?.status && disks().length === 0, 60_000);
    expect(launcher.calls.some((c) => c.method === 'DELETE' && c.path === '/disks/data' && c.authorized)).toBe(true);
    await waitFor('attachment pod deleted', () => !pod('web-hotplug-data'), 60_000);
    await waitFor('DiskDetached event', () => events().includes('DiskDetached'));
    expect(vm()?.status?.printableStatus).toBe('Running');
  }, 240_000);

  it('changing a disk that is not hotpluggable asks for a restart and leaves the VM running', async () => {
    operator ??= startOperator(OPERATOR_ARGS);
    const before = pod('web-launcher')?.metadata.uid;
    kubectl(['patch', 'vm', '-n', NS, 'web', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/disks/0/emptyDisk/capacity', value: '2Gi' }])]);
    const condition = await waitFor('RestartRequired', () => vm()?.status?.conditions?.find((c: Json) => c.type === 'RestartRequired' && c.status === 'True'));
    expect(condition.message).toMatch(/restartRequestedAt/);
    expect(pod('web-launcher')?.metadata.uid).toBe(before);
    expect(vm()?.status?.printableStatus).toBe('Running');
  }, 60_000);

  it('an operator killed in the middle of an attach converges to the spec without leaking attachment pods', async () => {
    operator ??= startOperator(OPERATOR_ARGS);
    pvc('web-logs');
    launcher.holdAttach = true;
    const calls = attachCalls().length;
    kubectl(['patch', 'vm', '-n', NS, 'web', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/disks/-', value: hotplug('logs', 'web-logs') }])]);
    await waitFor('attach requested', () => attachCalls().length > calls, 60_000);
    await operator.stop('SIGKILL');
    // while nobody reconciles, the user changes their mind
    kubectl(['patch', 'vm', '-n', NS, 'web', '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/spec/disks/1' }])]);
    launcher.holdAttach = false; // the held attach completes in the launcher after all
    operator = startOperator(OPERATOR_ARGS);
    await waitFor('logs detached and its pod gone', () => !launcher.disks.has('logs') && !pod('web-hotplug-logs') && !disks().some((d) => d.name === 'logs'), 90_000);
    const left = kubectl(['get', 'pods', '-n', NS, '-l', 'kubevmm.io/disk', '-o', 'name']).stdout.trim();
    expect(left).toBe('');
    expect(vm()?.status?.printableStatus).toBe('Running');
  }, 180_000);

  it('deleting the VM removes its attachment pods, Service and Secret with it', async () => {
    operator ??= startOperator(OPERATOR_ARGS);
    applyVm('web', [hotplug('data', 'web-data')]);
    await waitFor('data Attached again', diskPhase('data', 'Attached'), 120_000);
    kubectl(['delete', 'vm', '-n', NS, 'web', '--wait=false']);
    await waitFor('VM, pods, Service and Secret gone', () =>
      !vm() && !pod('web-launcher') && !pod('web-hotplug-data') && !getJson(['service', '-n', NS, 'hotplug-web']) && !getJson(['secret', '-n', NS, 'web-launcher-credentials']),
    120_000);
  }, 180_000);
});
