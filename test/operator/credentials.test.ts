// The operator's credentials on the real control plane (ADR 0009): it keeps its launcher CA
// in its own namespace, writes each VM a Secret with a certificate for that VM's UID (and
// writes it again, never reading it, when a VM of the same name comes back), reaches the
// launcher only over mutual TLS, and gives nothing to a pod that has the launcher's name and
// label but that the VM does not own. The launcher is the stand-in (simulated pods run no QEMU),
// serving the very Secret the operator wrote.
import { X509Certificate } from 'node:crypto';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlaneWithCrds, type ControlPlane } from './helpers/control-plane.js';
import { startLauncherStandin, type LauncherStandin } from './helpers/launcher-standin.js';
import { createNamespace, getJson, kubectl, startOperator, waitFor as waitForAny, type OperatorProcess } from './helpers/operator-process.js';

let cp: ControlPlane;
let operator: OperatorProcess | undefined;
let launcher: LauncherStandin;
const RUN = Date.now().toString(36).slice(-5);
const NS = `creds-${RUN}`;
const HOME = `creds-home-${RUN}`;
const CA_SECRET = `launcher-ca-${RUN}`;
const OPERATOR_PEER = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': HOME } }, podSelector: { matchLabels: { 'app.kubernetes.io/component': 'operator' } } };
const NETWORK_POLICY = JSON.stringify({ controlFrom: [OPERATOR_PEER] });
const OPERATOR_ARGS = ['--no-leader-elect', '--accelerator', 'tcg', '--resync-seconds', '30', '--health-port', '0', '--webhook-port', '0', '--lease-namespace', HOME, '--launcher-ca-secret', CA_SECRET, '--launcher-network-policy', NETWORK_POLICY];

type Json = Record<string, any>;
const vm = (name = 'web') => getJson<Json>(['vm', '-n', NS, name]);
const pod = (name: string) => getJson<Json>(['pod', '-n', NS, name]);
const secretData = (ns: string, name: string): Record<string, string> | undefined => {
  const s = getJson<Json>(['secret', '-n', ns, name]);
  return s && Object.fromEntries(Object.entries(s.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
};

function applyVm(name: string): void {
  const spec = { cpu: { cores: 1 }, memory: { guest: '256Mi' }, disks: [{ name: 'root', emptyDisk: { capacity: '1Gi' } }] };
  kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: NS }, spec }) });
}

function waitFor<T>(what: string, fn: () => T | undefined | false, ms?: number): Promise<T> {
  return waitForAny(what, fn, ms).catch((err: Error) => {
    throw new Error(`${err.message}\nstatus: ${JSON.stringify(vm()?.status)}\noperator log:\n${operator?.logs().slice(-3000)}`, { cause: err });
  });
}

beforeAll(async () => {
  cp = await useControlPlaneWithCrds();
  launcher = await startLauncherStandin();
  createNamespace(NS);
  createNamespace(HOME);
  operator = startOperator(OPERATOR_ARGS);
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  await operator?.stop();
  await launcher?.close();
  kubectl(['delete', 'namespace', NS, HOME, '--wait=false'], { allowFail: true });
  await cp?.release();
});

describe('launcher credentials', () => {
  it('a pod named <vm>-launcher with the right label but not owned by the VM never receives credentials', async () => {
    const planted = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-launcher', namespace: NS, labels: { 'kubevmm.io/vm': 'web', 'app.kubernetes.io/name': 'kubevmm-launcher' } },
      spec: {
        containers: [{ name: 'c', image: 'example.invalid/listener:1' }],
        // It would get the VM's credentials from the Secret the moment the operator wrote it.
        volumes: [{ name: 'loot', secret: { secretName: 'web-launcher-credentials' } }],
      },
    };
    kubectl(['apply', '-f', '-'], { input: JSON.stringify(planted) });
    const ip = await waitFor('the planted pod to get an IP', () => pod('web-launcher')?.status?.podIP as string | undefined, 60_000);
    const plantedUid = pod('web-launcher')!.metadata.uid;
    applyVm('web');
    const failure = await waitFor('LauncherPodConflict', () => vm()?.status?.conditions?.find((c: Json) => c.type === 'Failure' && c.reason === 'LauncherPodConflict'));
    expect(failure.message).toMatch(new RegExp(`pod ${NS}/web-launcher exists but kubevmm did not create it.*delete or rename that pod`));
    // Over a few more reconciles: no Secret, no connection to its IP, the pod left as it was.
    await new Promise((r) => setTimeout(r, 3000));
    expect(getJson(['secret', '-n', NS, 'web-launcher-credentials'])).toBeUndefined();
    expect(launcher.connections).not.toContain(ip);
    const after = pod('web-launcher')!;
    expect(after.metadata.uid).toBe(plantedUid);
    expect(after.metadata.ownerReferences).toBeUndefined();
    expect(after.metadata.annotations?.['kubevmm.io/vm']).toBeUndefined();
    expect(vm()?.status?.printableStatus).toBe('Stopped');

    // Once it is gone the VM starts with a pod (and credentials) of its own.
    kubectl(['delete', 'pod', '-n', NS, 'web-launcher', '--grace-period=0', '--force'], { allowFail: true });
    await waitFor('web Running', () => vm()?.status?.printableStatus === 'Running', 90_000);
    expect(pod('web-launcher')?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'VirtualMachine', uid: vm()!.metadata.uid });
  }, 180_000);

  it('issues the VM a certificate for its UID from the CA in the operator namespace, and talks to it over mutual TLS', async () => {
    const uid = vm()!.metadata.uid as string;
    const ca = secretData(HOME, CA_SECRET)!;
    expect(Object.keys(ca).sort()).toEqual(['ca.crt', 'ca.key', 'derive.key']);
    const creds = secretData(NS, 'web-launcher-credentials')!;
    expect(Object.keys(creds).sort()).toEqual(['ca.crt', 'keys.psk', 'tls.crt', 'tls.key']);
    expect(getJson<Json>(['secret', '-n', NS, 'web-launcher-credentials'])?.type).toBe('kubernetes.io/tls');
    const cert = new X509Certificate(creds['tls.crt']!);
    expect(cert.subjectAltName).toContain(`DNS:${uid}.launcher.kubevmm.invalid`);
    expect(cert.verify(new X509Certificate(ca['ca.crt']!).publicKey)).toBe(true);
    expect(creds['ca.crt']).toBe(ca['ca.crt']);
    expect(creds['keys.psk']).toMatch(/^kubevmm:[0-9a-f]{64}$/);
    await waitFor('a status call', () => launcher.calls.some((c) => c.path === '/status' && c.ip === pod('web-launcher')?.status?.podIP));
    const calls = launcher.calls.filter((c) => c.path === '/status');
    expect(calls.every((c) => c.authorized && c.client === 'kubevmm-operator')).toBe(true);
  }, 60_000);

  it('launcherNetworkPolicy: the VM namespace gets both policies, accepted by the API server as written', () => {
    const launchers = getJson<Json>(['networkpolicy', '-n', NS, 'kubevmm-launchers']);
    expect(launchers?.spec.ingress[0]).toEqual({ from: [OPERATOR_PEER], ports: [{ port: 9500, protocol: 'TCP' }] });
    expect(launchers?.spec.ingress[1].from).toBeUndefined();
    const attachments = getJson<Json>(['networkpolicy', '-n', NS, 'kubevmm-attachments']);
    expect(attachments?.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/managed-by': 'kubevmm', 'app.kubernetes.io/name': 'kubevmm-launcher' } } }], ports: [{ port: 10809, protocol: 'TCP' }] }]);
  });

  it('a VM recreated under the same name gets new credentials, written over the old Secret without reading it', async () => {
    const before = secretData(NS, 'web-launcher-credentials')!;
    const oldUid = vm()!.metadata.uid as string;
    // Keep the old Secret around (orphan it), as a slow garbage collector would.
    kubectl(['delete', 'vm', '-n', NS, 'web', '--cascade=orphan', '--wait=false']);
    await waitFor('the VM gone', () => !vm(), 60_000);
    kubectl(['delete', 'pod', '-n', NS, 'web-launcher', '--grace-period=0', '--force'], { allowFail: true });
    await waitFor('its pod gone', () => !pod('web-launcher'), 60_000);
    expect(secretData(NS, 'web-launcher-credentials')).toBeDefined();
    applyVm('web');
    await waitFor('the new web Running', () => vm()?.metadata.uid !== oldUid && vm()?.status?.printableStatus === 'Running', 90_000);
    const after = secretData(NS, 'web-launcher-credentials')!;
    expect(new X509Certificate(after['tls.crt']!).subjectAltName).toContain(`DNS:${vm()!.metadata.uid}.launcher.kubevmm.invalid`);
    expect(after['keys.psk']).not.toBe(before['keys.psk']);
    expect(getJson<Json>(['secret', '-n', NS, 'web-launcher-credentials'])?.metadata.ownerReferences[0].uid).toBe(vm()!.metadata.uid);
    // RBAC denials read "is forbidden: User ..."; other suites' VMs in terminating namespaces are not ours.
    expect(operator!.logs()).not.toMatch(/forbidden: User/);
    expect(operator!.logs().split('\n').filter((l) => l.includes(`"${NS}/`) && l.includes('launcher status unusable'))).toEqual([]);
  }, 180_000);
});
