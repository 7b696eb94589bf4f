// `helm install` of the chart on the real local control plane, then the operator run with
// the chart's ServiceAccount token (no kubelet runs the Deployment here, so it has 0 replicas):
// the RBAC the chart grants is enough to run a VM, hotplug a disk into it and clean up, the
// API server reports nothing granted beyond the calls the code declares, and in particular no
// read of Secrets outside the operator's namespace (ADR 0009). The launcher is the stand-in
// serving the credentials the operator wrote, over mutual TLS. The leader also writes the
// subresource server's certificates and the APIService's caBundle (ADR 0011).
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { OPERATOR_API_CALLS } from '../../operator/kube/client.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from '../operator/helpers/control-plane.js';
import { createNamespace, getJson, kubectl, startOperator, waitFor, type OperatorProcess } from '../operator/helpers/operator-process.js';
import { CHART_DIR, helm, helmBinDir, type Manifest } from './helpers/helm.js';
import { neededLines } from './helpers/rbac.js';
import { startLauncherStandin, type LauncherStandin } from '../operator/helpers/launcher-standin.js';

const RUN = Date.now().toString(36).slice(-5);
const RELEASE = `kubevmm-${RUN}`;
const SYSTEM_NS = `kubevmm-system-${RUN}`;
const VM_NS = `helm-vms-${RUN}`;

let cp: ControlPlane;
let operator: OperatorProcess | undefined;
let launcher: LauncherStandin | undefined;
let installOutput = '';
let saKubeconfig = '';
/** The namespace's default ServiceAccount, bound to nothing: what every ServiceAccount may do. */
let baselineKubeconfig = '';

interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

/** A kubeconfig for a ServiceAccount: the admin's cluster, a TokenRequest token. */
function serviceAccountKubeconfig(ns: string, name: string): string {
  const token = kubectl(['create', 'token', name, '-n', ns, '--duration', '2h']).stdout.trim();
  const admin = parse(readFileSync(process.env.KUBECONFIG!, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
  const cluster = admin.clusters[0]!.cluster;
  const file = join(mkdtempSync(join(tmpdir(), 'kubevmm-sa-')), 'kubeconfig');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster }],
    users: [{ name: 'sa', user: { token } }],
    contexts: [{ name: 'sa', context: { cluster: 'local', user: 'sa' } }],
    'current-context': 'sa',
  };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** What the API server says `kubeconfig`'s user may do in `ns` (SelfSubjectRulesReview), as rule lines. */
function rulesIn(kubeconfig: string, ns: string): Set<string> {
  const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: ns } };
  const out = kubectl(['--kubeconfig', kubeconfig, 'create', '--validate=false', '-f', '-', '-o', 'json'], { input: JSON.stringify(review) }).stdout;
  const rules = (JSON.parse(out) as { status: { resourceRules: ResourceRule[] } }).status.resourceRules;
  return new Set(
    rules.flatMap((r) => {
      const scope = r.resourceNames?.length ? 'named' : 'cluster';
      return (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${v} ${g || 'core'}/${res} ${scope}`)));
    }),
  );
}

/** What the chart grants its ServiceAccount in `ns`: its rules minus what any ServiceAccount may do. */
function grantedIn(ns: string): Set<string> {
  const baseline = rulesIn(baselineKubeconfig, ns);
  return new Set([...rulesIn(saKubeconfig, ns)].filter((l) => !baseline.has(l)));
}

/** The operator container's environment from the installed Deployment. */
function chartEnv(manifests: Manifest[]): Record<string, string> {
  const deployment = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === RELEASE)!;
  const container = (deployment.spec as { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } }).template.spec.containers[0]!;
  return Object.fromEntries(container.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

beforeAll(async () => {
  cp = await useControlPlane();
  helmBinDir();
  installOutput = await helm(
    'install', RELEASE, CHART_DIR, '--namespace', SYSTEM_NS, '--create-namespace', '--wait=false',
    '--set', 'replicaCount=0', '--set', 'accelerator=tcg',
    // The webhook Service has no endpoints here: keep the webhook away from every namespace
    // other suites use (the webhook itself is tested in test/operator/webhook.test.ts).
    '--set', 'webhook.namespaceSelector.matchLabels.kubevmm-helm-test=unused',
  );
  await cp.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/virtualmachines.kubevmm.io');
  createNamespace(VM_NS);
  saKubeconfig = serviceAccountKubeconfig(SYSTEM_NS, RELEASE);
  baselineKubeconfig = serviceAccountKubeconfig(VM_NS, 'default');
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  await operator?.stop();
  await launcher?.close();
  kubectl(['delete', 'pv', `${VM_NS}-data`, '--wait=false'], { allowFail: true });
  kubectl(['delete', 'namespace', VM_NS, '--wait=false'], { allowFail: true });
  await helm('uninstall', RELEASE, '--namespace', SYSTEM_NS).catch(() => undefined);
  kubectl(['delete', 'namespace', SYSTEM_NS, '--wait=false'], { allowFail: true });
  await cp?.release();
});

describe('helm install on the local control plane', () => {
  it('installs the chart with the operator at 0 replicas, and NOTES say how to scale it', async () => {
    expect(installOutput).toMatch(/STATUS: deployed/);
    expect(installOutput).toContain(`kubectl -n ${SYSTEM_NS} scale deployment ${RELEASE} --replicas=2`);
    const deployment = getJson<{ spec: { replicas: number } }>(['deployment', '-n', SYSTEM_NS, RELEASE]);
    expect(deployment?.spec.replicas).toBe(0);
    expect(getJson(['serviceaccount', '-n', SYSTEM_NS, RELEASE])).toBeDefined();
    expect(getJson(['validatingwebhookconfiguration', RELEASE])).toBeDefined();
    expect(installOutput).toContain('kubectl vm console');
  });

  it('grants the ServiceAccount exactly the calls the operator declares, no more', () => {
    const needed = neededLines(OPERATOR_API_CALLS, ['subresources']);
    const elsewhere = grantedIn(VM_NS);
    const home = grantedIn(SYSTEM_NS);
    const cluster = needed.filter((l) => !l.endsWith(' own-namespace'));
    expect([...elsewhere].sort()).toEqual(cluster);
    // In its own namespace it also has the Role: leases (and the webhook certificate's Secret).
    const ownNamespace = needed.filter((l) => l.endsWith(' own-namespace')).map((l) => l.replace(/ own-namespace$/, ''));
    const onlyHome = [...home].filter((l) => !elsewhere.has(l)).map((l) => l.replace(/ (cluster|named)$/, ''));
    expect(onlyHome.sort()).toEqual(ownNamespace.sort());
    for (const forbidden of [['get', 'nodes'], ['delete', 'secrets'], ['create', 'deployments'], ['list', 'secrets'], ['update', 'virtualmachines']]) {
      const r = kubectl(['--kubeconfig', saKubeconfig, 'auth', 'can-i', ...forbidden, '-n', VM_NS], { allowFail: true });
      expect({ forbidden, answer: r.stdout.trim() }).toEqual({ forbidden, answer: 'no' });
    }
  }, 60_000);

  it('can read no Secret outside its namespace, and at home only the launcher CA and the certificates it manages', () => {
    // SelfSubjectRulesReview as the ServiceAccount: no get, list or watch of Secrets (nor patch
    // or delete, which return a Secret's data too) in a VM namespace.
    const reads = /^(get|list|watch|patch|delete) core\/secrets /;
    expect([...rulesIn(saKubeconfig, VM_NS)].filter((l) => reads.test(l))).toEqual([]);
    expect([...rulesIn(saKubeconfig, 'default')].filter((l) => reads.test(l))).toEqual([]);
    const home = [...rulesIn(saKubeconfig, SYSTEM_NS)].filter((l) => reads.test(l));
    expect(home).toEqual(['get core/secrets named']);
    const can = (...args: string[]) => kubectl(['--kubeconfig', saKubeconfig, 'auth', 'can-i', ...args], { allowFail: true }).stdout.trim();
    expect(can('get', `secret/${RELEASE}-launcher-ca`, '-n', SYSTEM_NS)).toBe('yes');
    expect(can('get', `secret/${RELEASE}-webhook-tls`, '-n', SYSTEM_NS)).toBe('yes');
    expect(can('get', `secret/${RELEASE}-subresources-serving`, '-n', SYSTEM_NS)).toBe('yes');
    expect(can('get', `secret/${RELEASE}-subresources-client`, '-n', SYSTEM_NS)).toBe('yes');
    expect(can('get', `secret/${RELEASE}-ui-serving`, '-n', SYSTEM_NS)).toBe('yes');
    expect(can('get', 'secret/anything-else', '-n', SYSTEM_NS)).toBe('no');
    expect(can('get', 'secret/web-launcher-credentials', '-n', VM_NS)).toBe('no');
    expect(can('watch', 'secrets', '-A')).toBe('no');
  }, 60_000);

  it('the operator running as that ServiceAccount runs a VM, hotplugs a disk and cleans up', async () => {
    launcher = await startLauncherStandin();
    const manifests = parseAllDocuments(await helm('get', 'manifest', RELEASE, '--namespace', SYSTEM_NS)).map((d) => d.toJSON() as Manifest);
    const env = { ...process.env, ...chartEnv(manifests), KUBECONFIG: saKubeconfig, POD_NAMESPACE: SYSTEM_NS, POD_NAME: `operator-${RUN}`, KUBEVMM_WEBHOOK_PORT: String(20000 + (process.pid % 20000)), KUBEVMM_WEBHOOK_EXTRA_SANS: '127.0.0.1' };
    operator = startOperator(['--lease-namespace', SYSTEM_NS, '--lease-name', RELEASE, '--health-port', '0', '--resync-seconds', '30'], env);
    await waitFor('the operator to lead', () => /leading: reconciling/.test(operator!.logs()), 60_000);
    kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'kubevmm.io/v1alpha1',
        kind: 'VirtualMachine',
        metadata: { name: 'web', namespace: VM_NS },
        spec: { cpu: { cores: 1 }, memory: { guest: '256Mi' }, disks: [{ name: 'scratch', emptyDisk: { capacity: '1Gi' } }] },
      }),
    });
    const status = await waitFor('the VM to run', () => {
      const s = getJson<{ status?: { printableStatus?: string; accelerator?: string } }>(['vm', '-n', VM_NS, 'web'])?.status;
      return s?.printableStatus === 'Running' && s;
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}\noperator log:\n${operator?.logs().slice(-4000)}`);
    });
    expect(status.accelerator).toBe('tcg');
    expect(getJson(['pod', '-n', VM_NS, 'web-launcher'])).toBeDefined();
    expect(getJson(['secret', '-n', VM_NS, 'web-launcher-credentials'])).toBeDefined();
    expect(getJson(['secret', '-n', SYSTEM_NS, `${RELEASE}-launcher-ca`])).toBeDefined();

    // Hotplug: a PVC disk added to the running VM is attached through the launcher (mutual TLS).
    const pv = { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `${VM_NS}-data` }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', hostPath: { path: `/tmp/${VM_NS}/data` }, claimRef: { namespace: VM_NS, name: 'data' } } };
    const pvc = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: VM_NS }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pv.metadata.name, resources: { requests: { storage: '1Gi' } } } };
    kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pv, pvc] }) });
    const disks = [{ name: 'scratch', emptyDisk: { capacity: '1Gi' } }, { name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'data' } }];
    kubectl(['patch', 'vm', '-n', VM_NS, 'web', '--type=merge', '-p', JSON.stringify({ spec: { disks } })]);
    const diskPhase = () => getJson<{ status?: { disks?: { name: string; phase: string }[] } }>(['vm', '-n', VM_NS, 'web'])?.status?.disks?.find((d) => d.name === 'data')?.phase;
    await waitFor('the disk Attached', () => diskPhase() === 'Attached', 120_000).catch((err: Error) => {
      throw new Error(`${err.message}\noperator log:\n${operator?.logs().slice(-4000)}`);
    });
    expect(launcher.calls.find((c) => c.method === 'POST' && c.path === '/disks')).toMatchObject({ authorized: true, client: 'kubevmm-operator' });
    kubectl(['patch', 'vm', '-n', VM_NS, 'web', '--type=merge', '-p', JSON.stringify({ spec: { disks: disks.slice(0, 1) } })]);
    await waitFor('the disk detached and its attachment pod gone', () => diskPhase() === undefined && !getJson(['pod', '-n', VM_NS, 'web-hotplug-data']), 60_000);
    // The webhook's certificate: the operator stores it in its namespace and patches the CA
    // into the chart's webhook configuration, with nothing but the chart's grants.
    await waitFor('the CA in the webhook configuration', () => {
      const config = getJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(['validatingwebhookconfiguration', RELEASE]);
      return config?.webhooks.every((w) => !!w.clientConfig.caBundle);
    }, 60_000);
    expect(getJson(['secret', '-n', SYSTEM_NS, `${RELEASE}-webhook-tls`])).toBeDefined();
    // The subresource server's credentials (ADR 0011): the leader writes both Secrets in its
    // namespace and the serving CA into the chart's APIService, with nothing but the chart's grants.
    const secretText = (name: string, key: string) => Buffer.from(getJson<{ data: Record<string, string> }>(['secret', '-n', SYSTEM_NS, name])?.data[key] ?? '', 'base64').toString();
    await waitFor('the serving CA in the APIService', () => {
      const apiService = getJson<{ spec: { caBundle?: string } }>(['apiservice', 'v1alpha1.subresources.kubevmm.io']);
      const serving = getJson(['secret', '-n', SYSTEM_NS, `${RELEASE}-subresources-serving`]);
      return !!serving && apiService?.spec.caBundle === Buffer.from(secretText(`${RELEASE}-subresources-serving`, 'ca.crt')).toString('base64');
    }, 60_000);
    const client = new X509Certificate(secretText(`${RELEASE}-subresources-client`, 'tls.crt'));
    expect(client.subject.split('\n').sort()).toEqual(['CN=kubevmm-subresources', 'O=kubevmm']);
    expect(client.verify(new X509Certificate(secretText(`${RELEASE}-launcher-ca`, 'ca.crt')).publicKey)).toBe(true);
    expect(secretText(`${RELEASE}-subresources-client`, 'ca.crt')).toBe(secretText(`${RELEASE}-launcher-ca`, 'ca.crt'));
    expect(new X509Certificate(secretText(`${RELEASE}-subresources-serving`, 'tls.crt')).checkHost(`${RELEASE}-subresources.${SYSTEM_NS}.svc`)).toBeTruthy();
    // The web console's serving certificate (ADR 0018): kept the same way, in a Secret of its own.
    await waitFor('the web console serving Secret', () => getJson(['secret', '-n', SYSTEM_NS, `${RELEASE}-ui-serving`]), 60_000);
    expect(new X509Certificate(secretText(`${RELEASE}-ui-serving`, 'tls.crt')).checkHost(`${RELEASE}-ui.${SYSTEM_NS}.svc`)).toBeTruthy();
    expect(new X509Certificate(secretText(`${RELEASE}-ui-serving`, 'ca.crt')).subject).toContain('CN=kubevmm-ui-ca');
    kubectl(['delete', 'vm', '-n', VM_NS, 'web', '--wait=false']);
    await waitFor('the VM and its pod to be gone', () => !getJson(['vm', '-n', VM_NS, 'web']) && !getJson(['pod', '-n', VM_NS, 'web-launcher']), 60_000);
    // RBAC denials read "is forbidden: User ... cannot"; other 403s (a namespace being deleted) are not ours.
    expect(operator.logs()).not.toMatch(/forbidden: User/);
  }, 240_000);
});
