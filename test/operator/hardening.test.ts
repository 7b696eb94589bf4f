// Issue 16 against the real control plane, with the operator as its own process: writes the
// API server refuses are reported (a LimitRange, a rejecting admission webhook), a future
// restartRequestedAt restarts once, a Failed attachment pod is replaced, and two VMs created
// together on one claim never both start.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, createServing } from '../../operator/pki/certs.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from './helpers/control-plane.js';
import { startLauncherStandin, type LauncherStandin } from './helpers/launcher-standin.js';
import { createNamespace, getJson, kubectl, startOperator, waitFor as waitForAny, type OperatorProcess } from './helpers/operator-process.js';

type Json = Record<string, any>;
let cp: ControlPlane;
let operator: OperatorProcess | undefined;
const RUN = Date.now().toString(36).slice(-5);
const namespaces: string[] = [];
/** The namespaces of the running test, whose VMs go before its operator stops. */
const testNamespaces: string[] = [];
const cleanups: (() => void | Promise<void>)[] = [];
const OPERATOR_ARGS = ['--no-leader-elect', '--accelerator', 'tcg', '--crash-loop-base-seconds', '1', '--resync-seconds', '30', '--health-port', '0', '--webhook-port', '0'];

function namespace(name: string): string {
  const ns = `${name}-${RUN}`;
  createNamespace(ns);
  namespaces.push(ns);
  testNamespaces.push(ns);
  return ns;
}

const vmYaml = (ns: string, name: string, spec: Json) => JSON.stringify({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: ns }, spec });
const SMALL = { cpu: { cores: 1 }, memory: { guest: '1Gi' }, disks: [{ name: 'scratch', emptyDisk: { capacity: '1Gi' } }] };
const vm = (ns: string, name: string) => getJson<Json>(['vm', '-n', ns, name]);
const pod = (ns: string, name: string) => getJson<Json>(['pod', '-n', ns, name]);
const failure = (status: Json | undefined) => status?.conditions?.find((c: Json) => c.type === 'Failure');
const events = (ns: string, name: string) =>
  (getJson<{ items: Json[] }>(['events', '-n', ns, '--field-selector', `involvedObject.name=${name}`])?.items ?? []).map((e) => ({ type: e.type, reason: e.reason, message: e.message }));

/** waitFor, with the operator's last log lines when it times out. */
function waitFor<T>(what: string, fn: () => T | undefined | false, ms?: number): Promise<T> {
  return waitForAny(what, fn, ms).catch((err: Error) => {
    throw new Error(`${err.message}\noperator log:\n${operator?.logs().slice(-3000)}`, { cause: err });
  });
}

beforeAll(async () => {
  cp = await useControlPlane();
  await cp.kubectl('apply', '--server-side', '--force-conflicts', '-f', 'crds/');
  await cp.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachines.kubevmm.io');
}, CONTROL_PLANE_TIMEOUT_MS);

afterEach(async () => {
  // The VMs go while this operator still runs to take their finalizers off: the control plane is
  // shared, and the next suite's operator would otherwise do it (and count the writes as its own).
  for (const ns of testNamespaces.splice(0)) kubectl(['delete', 'virtualmachines', '--all', '-n', ns, '--wait=true', '--timeout=60s'], { allowFail: true });
  await operator?.stop();
  operator = undefined;
  for (const clean of cleanups.splice(0)) await clean();
});

afterAll(async () => {
  for (const ns of namespaces) kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFail: true });
  await cp?.release();
});

describe('no refused write is hidden', () => {
  it('a launcher pod refused by a LimitRange appears in status and Events, and starts once the limit is lifted', async () => {
    const ns = namespace('limits');
    kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'small', namespace: ns }, spec: { limits: [{ type: 'Container', max: { memory: '512Mi' } }] } }) });
    operator = startOperator(OPERATOR_ARGS);
    kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'big', SMALL) });
    const refused = await waitFor('ErrorRefused', () => vm(ns, 'big')?.status?.printableStatus === 'ErrorRefused' && vm(ns, 'big')!.status);
    expect(failure(refused)).toMatchObject({ status: 'True', reason: 'LauncherPodRefused' });
    expect(failure(refused).message).toMatch(new RegExp(`^the API server refused LauncherPod ${ns}/big-launcher \\(Forbidden\\): .*maximum memory usage per Container is 512Mi`));
    const event = await waitFor('the Warning event', () => events(ns, 'big').find((e) => e.reason === 'LauncherPodRefused'));
    expect(event).toMatchObject({ type: 'Warning', message: failure(refused).message });
    expect(pod(ns, 'big-launcher')).toBeUndefined();
    // retried with backoff: once the LimitRange is gone the VM starts by itself
    kubectl(['delete', 'limitrange', '-n', ns, 'small']);
    await waitFor('Running after the limit was lifted', () => vm(ns, 'big')?.status?.printableStatus === 'Running', 90_000);
    expect(events(ns, 'big').filter((e) => e.reason === 'LauncherPodRefused')).toHaveLength(1);
  }, 180_000);

  it('a launcher pod refused by an admission webhook appears in status and Events with the webhook’s message', async () => {
    const ns = namespace('denied');
    const server = await denyingWebhook('pods in this namespace are refused by the test webhook');
    const config = `deny-pods-${RUN}`;
    kubectl(['apply', '-f', '-'], { input: JSON.stringify(webhookConfiguration(config, ns, server)) });
    cleanups.push(() => void kubectl(['delete', 'validatingwebhookconfiguration', config], { allowFail: true }), () => void server.server.close());
    operator = startOperator(OPERATOR_ARGS);
    kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'web', SMALL) });
    const refused = await waitFor('ErrorRefused', () => vm(ns, 'web')?.status?.printableStatus === 'ErrorRefused' && vm(ns, 'web')!.status, 60_000);
    expect(failure(refused).reason).toBe('LauncherPodRefused');
    expect(failure(refused).message).toMatch(/admission webhook "deny.pods.kubevmm.test" denied the request: pods in this namespace are refused by the test webhook/);
    const event = await waitFor('the Warning event', () => events(ns, 'web').find((e) => e.reason === 'LauncherPodRefused'));
    expect(event.message).toBe(failure(refused).message);
    expect(server.reviews()).toBeGreaterThan(0);
  }, 180_000);
});

describe('controller correctness', () => {
  it('a restartRequestedAt in the future restarts the VM once and is recorded in status', async () => {
    const ns = namespace('restart');
    operator = startOperator(OPERATOR_ARGS);
    kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'web', SMALL) });
    await waitFor('Running', () => vm(ns, 'web')?.status?.printableStatus === 'Running', 60_000);
    const first = pod(ns, 'web-launcher')?.metadata.uid;
    const future = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    kubectl(['patch', 'vm', '-n', ns, 'web', '--type=merge', '-p', JSON.stringify({ spec: { restartRequestedAt: future } })]);
    const second = await waitFor('a new launcher pod', () => { const uid = pod(ns, 'web-launcher')?.metadata.uid; return uid !== first && uid; }, 60_000);
    const running = await waitFor('Running again', () => vm(ns, 'web')?.status?.printableStatus === 'Running' && vm(ns, 'web')!.status, 60_000);
    expect(running.lastRestartRequestedAt).toBe(future);
    // and never again: the pod stays the same through several reconciles
    kubectl(['annotate', 'vm', '-n', ns, 'web', 'poke=1']);
    await new Promise((r) => setTimeout(r, 8_000));
    expect(pod(ns, 'web-launcher')?.metadata.uid).toBe(second);
    expect(events(ns, 'web').filter((e) => e.reason === 'Stopping')).toHaveLength(1);
  }, 180_000);

  it('two VMs created at the same moment on one claim: exactly one starts, the other says why', async () => {
    const ns = namespace('claim');
    boundClaim(ns, 'shared');
    operator = startOperator(OPERATOR_ARGS);
    const spec = (name: string) => vmYaml(ns, name, { ...SMALL, disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'shared' } }] });
    kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [JSON.parse(spec('alpha')), JSON.parse(spec('beta'))] }) });
    const waiting = await waitFor('beta waiting', () => vm(ns, 'beta')?.status?.printableStatus === 'ErrorPvcInUse' && vm(ns, 'beta')!.status, 60_000);
    expect(failure(waiting)).toMatchObject({ reason: 'PvcInUse', message: expect.stringMatching(/^PersistentVolumeClaim shared (is in read-write use by|goes to) VirtualMachine alpha/) });
    await waitFor('alpha Running', () => vm(ns, 'alpha')?.status?.printableStatus === 'Running', 60_000);
    await new Promise((r) => setTimeout(r, 5_000));
    expect(pod(ns, 'beta-launcher')).toBeUndefined();
    expect(vm(ns, 'beta')?.status?.printableStatus).toBe('ErrorPvcInUse');
    expect(events(ns, 'beta').find((e) => e.reason === 'ErrorPvcInUse')?.message).toMatch(/PvcInUse: PersistentVolumeClaim shared/);
    // alpha stops: beta gets the claim
    kubectl(['patch', 'vm', '-n', ns, 'alpha', '--type=merge', '-p', '{"spec":{"runStrategy":"Halted"}}']);
    await waitFor('beta Running once alpha stopped', () => vm(ns, 'beta')?.status?.printableStatus === 'Running', 90_000);
  }, 240_000);

  it('a Failed (evicted) attachment pod is replaced, and the VM runs on with its disk attached', async () => {
    const ns = namespace('evict');
    const launcher: LauncherStandin = await startLauncherStandin();
    cleanups.push(() => launcher.close());
    boundClaim(ns, 'data');
    operator = startOperator(OPERATOR_ARGS);
    kubectl(['apply', '-f', '-'], { input: vmYaml(ns, 'web', { ...SMALL, disks: [...SMALL.disks, { name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'data' } }] }) });
    const attached = () => vm(ns, 'web')?.status?.disks?.find((d: Json) => d.name === 'data' && d.phase === 'Attached');
    await waitFor('data Attached', attached, 120_000);
    const before = (await waitFor('the attachment pod', () => pod(ns, 'web-hotplug-data')))!;
    // the node evicts the export: the pod is Failed for good (restartPolicy Always cannot revive it)
    launcher.state = { state: 'paused', reason: 'IoError', message: 'disk data: I/O error' };
    const evicted = { status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' } };
    kubectl(['patch', 'pod', '-n', ns, 'web-hotplug-data', '--subresource=status', '--type=merge', '-p', JSON.stringify(evicted)]);
    await waitFor('Paused on the I/O error', () => vm(ns, 'web')?.status?.printableStatus === 'Paused', 60_000);
    const replacement = await waitFor('a new attachment pod, Running', () => {
      const p = pod(ns, 'web-hotplug-data');
      return p && p.metadata.uid !== before.metadata.uid && p.status?.phase === 'Running' && p;
    }, 120_000);
    expect(replacement.spec.affinity).toEqual(before.spec.affinity);
    // the launcher's NBD reconnect finds the new export and lifts the pause (test/launcher/hotplug-nbd.test.ts (d))
    launcher.state = undefined;
    await waitFor('Running again', () => vm(ns, 'web')?.status?.printableStatus === 'Running', 60_000);
    expect(attached()).toBeTruthy();
    expect(launcher.calls.filter((c) => c.method === 'POST' && c.path === '/resume')).toEqual([]); // an I/O-error pause is the launcher's to lift
  }, 240_000);
});

/** A PVC bound to its own PersistentVolume, so pods using it can be scheduled. */
function boundClaim(ns: string, name: string): void {
  const pv = { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `${ns}-${name}` }, spec: { capacity: { storage: '2Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', hostPath: { path: `/tmp/${ns}/${name}` }, claimRef: { namespace: ns, name } } };
  const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: ns }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pv.metadata.name, resources: { requests: { storage: '2Gi' } } } };
  kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pv, claim] }) });
  cleanups.push(() => void kubectl(['delete', 'pv', pv.metadata.name, '--wait=false'], { allowFail: true }));
}

/** An HTTPS admission webhook on 127.0.0.1 that denies every request with `message`. */
async function denyingWebhook(message: string): Promise<{ server: Server; url: string; ca: string; reviews: () => number }> {
  const now = new Date();
  const ca = await createCa(now, 'kubevmm-test-ca');
  const serving = await createServing(ca, ['127.0.0.1'], now);
  let reviews = 0;
  const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      reviews++;
      const uid = (JSON.parse(body) as { request: { uid: string } }).request.uid;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: false, status: { code: 403, message } } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`, ca: ca.certPem, reviews: () => reviews };
}

function webhookConfiguration(name: string, ns: string, hook: { url: string; ca: string }): Json {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name },
    webhooks: [
      {
        name: 'deny.pods.kubevmm.test',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        timeoutSeconds: 5,
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
        clientConfig: { url: hook.url, caBundle: Buffer.from(hook.ca).toString('base64') },
      },
    ],
  };
}
