// The validating admission webhook served by the operator (its own process) and called by the
// real kube-apiserver. This control plane has no Service routing to a local process, so the
// test's ValidatingWebhookConfiguration calls the webhook by URL on 127.0.0.1, which the
// operator puts into its certificate (--webhook-extra-sans). Other suites share the control
// plane: the VM webhook only sees this suite's namespace, the class webhook only classes with
// this suite's label, and the configuration is deleted in afterAll whatever happened.
import { request } from 'node:https';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import { freePort } from '../../launcher/runtime/ports.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from './helpers/control-plane.js';
import { createNamespace, getJson, kubectl, startOperator, waitFor, type OperatorProcess } from './helpers/operator-process.js';

const RUN = Date.now().toString(36).slice(-5);
const NS = `webhook-${RUN}`;
const CONFIG = `kubevmm-webhook-test-${RUN}`;
const LABEL = 'kubevmm.io/webhook-test';
const VM_HOOK = 'virtualmachines.validate.kubevmm.io';
const CLASS_HOOK = 'virtualmachineclasses.validate.kubevmm.io';
const CLASS = `small-${RUN}`;

let cp: ControlPlane;
let operator: OperatorProcess | undefined;
let port = 0;

function webhookConfiguration(): string {
  const hook = (name: string, path: string, selector: string) => `  - name: ${name}
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 10
    ${selector}
    rules:
      - apiGroups: [kubevmm.io]
        apiVersions: [v1alpha1]
        operations: [CREATE, UPDATE]
        resources: [${path}]
    clientConfig:
      url: https://127.0.0.1:${port}/validate/${path}
`;
  return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: { name: ${CONFIG} }
webhooks:
${hook(VM_HOOK, 'virtualmachines', `namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${NS} } }`)}${hook(CLASS_HOOK, 'virtualmachineclasses', `objectSelector: { matchLabels: { ${LABEL}: "${RUN}" } }`)}`;
}

const vmYaml = (name: string, spec: string) => `apiVersion: kubevmm.io/v1alpha1
kind: VirtualMachine
metadata: { name: ${name}, namespace: ${NS} }
spec:
${spec}`;

const apply = (yaml: string) => kubectl(['apply', '-f', '-'], { input: yaml, allowFail: true });
const caBundles = () => (getJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(['validatingwebhookconfiguration', CONFIG])?.webhooks ?? []).map((w) => w.clientConfig.caBundle);
const secretCa = () => getJson<{ type: string; data: Record<string, string> }>(['secret', '-n', NS, 'kubevmm-webhook-tls']);

function startWebhookOperator(): OperatorProcess {
  return startOperator([
    '--no-leader-elect',
    '--accelerator', 'tcg',
    '--health-port', '0',
    '--lease-namespace', NS,
    '--webhook-port', String(port),
    '--webhook-extra-sans', '127.0.0.1',
    '--webhook-configuration', CONFIG,
  ]);
}

/** POSTs an AdmissionReview to the webhook directly, trusting only the CA from the Secret. */
function review(object: unknown, ca: string): Promise<{ response: { allowed: boolean; status?: { message: string; details?: { causes: { field: string; message: string }[] } } } }> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'direct-1', kind: { group: 'kubevmm.io', version: 'v1alpha1', kind: 'VirtualMachine' }, operation: 'CREATE', namespace: NS, object },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/validate/virtualmachines', method: 'POST', ca, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(JSON.parse(text)));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/**
 * Creates through the API and returns the API server's Status message for a refusal: unlike
 * kubectl's rendering, it says which layer refused (`admission webhook "..." denied the request`).
 */
async function refusal(object: { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [field: string]: unknown }): Promise<string> {
  const api = cp.kc.makeApiClient(CustomObjectsApi);
  const [group, version] = ['kubevmm.io', 'v1alpha1'];
  try {
    if (object.metadata.namespace) await api.createNamespacedCustomObject({ group, version, namespace: object.metadata.namespace, plural: 'virtualmachines', body: object });
    else await api.createClusterCustomObject({ group, version, plural: 'virtualmachineclasses', body: object });
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = typeof err.body === 'string' ? (JSON.parse(err.body) as { message: string }) : (err.body as { message: string });
    return body.message;
  }
  throw new Error(`${object.kind} ${object.metadata.name} was admitted`);
}

const vmObject = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: NS }, spec });

beforeAll(async () => {
  cp = await useControlPlane();
  await cp.kubectl('apply', '--server-side', '--force-conflicts', '-f', 'crds/');
  await cp.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachines.kubevmm.io', 'crd/virtualmachineclasses.kubevmm.io');
  createNamespace(NS);
  port = await freePort();
  // Created before the operator starts: it patches the caBundle in at start.
  kubectl(['apply', '-f', '-'], { input: webhookConfiguration() });
  operator = startWebhookOperator();
  await waitFor('the operator to patch its CA into both webhooks', () => {
    const bundles = caBundles();
    return bundles.length === 2 && bundles.every(Boolean);
  }, 60_000);
  await waitFor('operator caches', () => operator?.logs().includes('caches synced'));
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  // Always, first: a dangling fail-closed webhook would break every later VM create here.
  kubectl(['delete', 'validatingwebhookconfiguration', CONFIG, '--ignore-not-found'], { allowFail: true });
  await operator?.stop();
  // No operator is left to remove the finalizers: drop them, or the namespace never goes.
  const vms = kubectl(['get', 'vm', '-n', NS, '-o', 'name'], { allowFail: true }).stdout.split('\n').filter(Boolean);
  for (const vm of vms) kubectl(['patch', '-n', NS, vm, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], { allowFail: true });
  kubectl(['delete', 'virtualmachineclass', CLASS, `bad-${RUN}`, '--ignore-not-found'], { allowFail: true });
  kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFail: true });
  await cp?.release();
});

describe('the admission webhook on the real API server', () => {
  it('keeps its CA and serving certificate in a Secret and puts the CA into the configuration', () => {
    const secret = secretCa();
    expect(secret?.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret?.data ?? {}).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(caBundles()).toEqual([secret?.data['ca.crt'], secret?.data['ca.crt']]);
  });

  it('admits a valid VM', () => {
    const r = apply(vmYaml('valid', '  memory: { guest: 1Gi }\n  disks:\n    - { name: scratch, emptyDisk: { capacity: 1Gi } }\n'));
    expect(r.stderr).toBe('');
    expect(getJson(['vm', '-n', NS, 'valid'])).toBeDefined();
  });

  it('rejects a VM beyond its class limits: the webhook answers, naming the field and the limit', async () => {
    const cls = `apiVersion: kubevmm.io/v1alpha1
kind: VirtualMachineClass
metadata: { name: ${CLASS}, labels: { ${LABEL}: "${RUN}" } }
spec: { memory: { guest: 1Gi }, limits: { maxCores: 2, maxMemory: 2Gi } }
`;
    expect(apply(cls).stderr).toBe('');
    const r = apply(vmYaml('big', `  className: ${CLASS}\n  cpu: { cores: 4 }\n`));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`The VirtualMachine "big" is invalid: spec.cpu: 4 vCPUs exceed class "${CLASS}" limit maxCores=2`);
    expect(getJson(['vm', '-n', NS, 'big'])).toBeUndefined();
    expect(await refusal(vmObject('big', { className: CLASS, cpu: { cores: 4 } }))).toBe(
      `admission webhook "${VM_HOOK}" denied the request: VirtualMachine ${NS}/big is invalid: spec.cpu: 4 vCPUs exceed class "${CLASS}" limit maxCores=2`,
    );
    // within the limits the same class admits it
    expect(apply(vmYaml('fits', `  className: ${CLASS}\n  cpu: { cores: 2 }\n`)).stderr).toBe('');
  });

  it('rejects a VM naming a class that does not exist', async () => {
    const r = apply(vmYaml('orphan', `  className: nope-${RUN}\n  memory: { guest: 1Gi }\n`));
    expect(r.stderr).toContain(`The VirtualMachine "orphan" is invalid: spec.className: VirtualMachineClass "nope-${RUN}" does not exist; create it or name an existing class`);
    expect(await refusal(vmObject('orphan', { className: `nope-${RUN}` }))).toMatch(new RegExp(`^admission webhook "${VM_HOOK}" denied the request`));
  });

  it('rejects duplicate disk names: the CRD answers before the webhook, and the webhook gives the same verdict on its own', async () => {
    const disks = '  memory: { guest: 1Gi }\n  disks:\n    - { name: root, emptyDisk: { capacity: 1Gi } }\n    - { name: root, emptyDisk: { capacity: 2Gi } }\n';
    const r = apply(vmYaml('dupes', disks));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/spec\.disks\[1\]/);
    // The list is keyed by name (x-kubernetes-list-map-keys), so the schema layer refuses it
    // before any webhook is called:
    const status = await refusal(vmObject('dupes', { memory: { guest: '1Gi' }, disks: [{ name: 'root', emptyDisk: { capacity: '1Gi' } }, { name: 'root', emptyDisk: { capacity: '2Gi' } }] }));
    expect(status).toMatch(/spec\.disks\[1\]: Duplicate value/);
    expect(status).not.toContain('admission webhook');
    const direct = await review(
      { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'dupes', namespace: NS }, spec: { memory: { guest: '1Gi' }, disks: [{ name: 'root', emptyDisk: { capacity: '1Gi' } }, { name: 'root', emptyDisk: { capacity: '2Gi' } }] } },
      Buffer.from(secretCa()?.data['ca.crt'] ?? '', 'base64').toString(),
    );
    expect(direct.response.allowed).toBe(false);
    expect(direct.response.status?.details?.causes).toContainEqual({ reason: 'FieldValueInvalid', field: 'spec.disks[1].name', message: expect.stringContaining('duplicate value "root"') });
  });

  it('rejects a second read-write user of a PVC while the first VM may run, and admits it once that VM is stopped', async () => {
    const pvcDisk = '  memory: { guest: 1Gi }\n  disks:\n    - { name: data, persistentVolumeClaim: { claimName: shared } }\n';
    expect(apply(vmYaml('first', pvcDisk)).stderr).toBe('');
    // The operator has it in its cache once it has reconciled it (no PVC: ErrorPvcNotFound).
    await waitFor('first reconciled', () => getJson<{ status?: { printableStatus?: string } }>(['vm', '-n', NS, 'first'])?.status?.printableStatus);
    const r = apply(vmYaml('second', pvcDisk));
    expect(r.stderr).toContain('The VirtualMachine "second" is invalid');
    expect(r.stderr).toMatch(/spec\.disks\[0\]\.persistentVolumeClaim\.claimName: PersistentVolumeClaim "shared" is in read-write use by VirtualMachine "first" \(\w+\).*stop "first" first \(runStrategy: Halted\) or set readOnly: true/);
    expect(apply(vmYaml('reader', pvcDisk.replace('claimName: shared }', 'claimName: shared, readOnly: true }'))).stderr).toBe('');

    kubectl(['patch', 'vm', '-n', NS, 'first', '--type=merge', '-p', '{"spec":{"runStrategy":"Halted"}}']);
    await waitFor('first Stopped', () => getJson<{ status?: { printableStatus?: string } }>(['vm', '-n', NS, 'first'])?.status?.printableStatus === 'Stopped');
    await waitFor('second admitted once first is stopped', () => apply(vmYaml('second', pvcDisk)).code === 0, 15_000);
  });

  it('rejects a class whose defaults break its own limits', async () => {
    const r = apply(`apiVersion: kubevmm.io/v1alpha1
kind: VirtualMachineClass
metadata: { name: bad-${RUN}, labels: { ${LABEL}: "${RUN}" } }
spec: { memory: { guest: 8Gi }, limits: { maxMemory: 4Gi } }
`);
    expect(r.stderr).toContain(`The VirtualMachineClass "bad-${RUN}" is invalid: spec.memory.guest: the class's own default 8Gi exceeds its limit maxMemory=4Gi`);
    const status = await refusal({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachineClass', metadata: { name: `bad-${RUN}`, labels: { [LABEL]: RUN } }, spec: { memory: { guest: '8Gi' }, limits: { maxMemory: '4Gi' } } });
    expect(status).toMatch(new RegExp(`^admission webhook "${CLASS_HOOK}" denied the request: VirtualMachineClass bad-${RUN} is invalid`));
  });

  it('fails closed: with the operator stopped, no VM is admitted', async () => {
    await operator?.stop();
    operator = undefined;
    const r = apply(vmYaml('unchecked', '  memory: { guest: 1Gi }\n'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`failed calling webhook "${VM_HOOK.replace(/\./g, '\\.')}".*connection refused`));
    expect(getJson(['vm', '-n', NS, 'unchecked'])).toBeUndefined();
  });
});
