// The chart's RBAC for the subresource API, asked of the real API server (SubjectAccessReview,
// the form docs/rbac.md shows among them): the user roles aggregate into the
// built-in edit, view and admin, so a user bound to `edit` in a namespace may open a VM's
// console there and a `view` user may not (but may read metrics); a Role with resourceNames
// gives the console of one VM; the subresource server's own ServiceAccount may open nothing
// and read no Secret. No pod runs: the chart is installed with 0 replicas.
import { readFileSync } from 'node:fs';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlane, type ControlPlane } from '../operator/helpers/control-plane.js';
import { createNamespace, kubectl, waitFor } from '../operator/helpers/operator-process.js';
import { CHART_DIR, helm, helmBinDir } from './helpers/helm.js';

const RUN = Date.now().toString(36).slice(-5);
const RELEASE = `kubevmm-rbac-${RUN}`;
const SYSTEM_NS = `kubevmm-rbac-system-${RUN}`;
const TEAM = `team-${RUN}`;
const OTHER = `other-${RUN}`;
const SERVER_SA = `system:serviceaccount:${SYSTEM_NS}:${RELEASE}-subresources`;
const SUBRESOURCES = ['console', 'vnc', 'portforward', 'metrics'] as const;

let cp: ControlPlane;

interface Attributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** What the API server answers for `user` (a SubjectAccessReview, made as the cluster admin). */
function allowed(user: string, attrs: Attributes): boolean {
  const groups = user.startsWith('system:serviceaccount:') ? ['system:serviceaccounts', `system:serviceaccounts:${user.split(':')[2]}`, 'system:authenticated'] : ['system:authenticated'];
  const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups, resourceAttributes: attrs } };
  const out = kubectl(['create', '-f', '-', '-o', 'json'], { input: JSON.stringify(review) }).stdout;
  return (JSON.parse(out) as { status: { allowed: boolean } }).status.allowed;
}

/** `get` of a subresource of a VM in subresources.kubevmm.io: what opening it asks for. */
const vmSub = (subresource: string, namespace: string, name = 'web'): Attributes => ({ verb: 'get', group: 'subresources.kubevmm.io', resource: 'virtualmachines', subresource, namespace, name });

/** The answers for each of the four subresources, for a table assertion. */
const answers = (user: string, namespace: string, name = 'web') => Object.fromEntries(SUBRESOURCES.map((s) => [s, allowed(user, vmSub(s, namespace, name))]));

function bind(namespace: string, user: string, role: string): void {
  kubectl(['create', 'rolebinding', `${user}-${role}`, `--clusterrole=${role}`, `--user=${user}`, '-n', namespace]);
}

/** The YAML block under a heading of docs/rbac.md, so what the page shows is what is tested. */
function docBlock(heading: string): string {
  const section = readFileSync('docs/rbac.md', 'utf8').split(/^## /m).find((s) => s.startsWith(heading));
  const block = /```yaml\n([\s\S]*?)```/.exec(section ?? '')?.[1];
  if (!block) throw new Error(`docs/rbac.md has no yaml block under "## ${heading}"`);
  return block;
}

beforeAll(async () => {
  cp = await useControlPlane();
  helmBinDir();
  await helm(
    'install', RELEASE, CHART_DIR, '--namespace', SYSTEM_NS, '--create-namespace', '--wait=false',
    '--set', 'replicaCount=0', '--set', 'subresources.replicas=0', '--set', 'devicePlugin.enabled=false',
    // No webhook endpoint runs here: keep the webhook away from every namespace.
    '--set', 'webhook.namespaceSelector.matchLabels.kubevmm-helm-test=unused',
  );
  for (const ns of [TEAM, OTHER]) createNamespace(ns);
  bind(TEAM, 'alice', 'edit');
  bind(TEAM, 'bob', 'view');
  bind(TEAM, 'dana', 'admin');
  // docs/rbac.md's manifest for the console of one VM, applied as written (namespace aside).
  kubectl(['apply', '-f', '-'], { input: docBlock('The console of one VM').replaceAll('namespace: team-a', `namespace: ${TEAM}`) });
  // The aggregation controller fills edit, view and admin from the chart's roles shortly after.
  await waitFor('the kubevmm roles aggregated into edit, view and admin', () => allowed('alice', vmSub('console', TEAM)) && allowed('bob', vmSub('metrics', TEAM)) && allowed('dana', vmSub('console', TEAM)), 60_000);
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  await helm('uninstall', RELEASE, '--namespace', SYSTEM_NS).catch(() => undefined);
  for (const ns of [TEAM, OTHER, SYSTEM_NS]) kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFail: true });
  await cp?.release();
});

describe('RBAC of the subresource API on the local control plane', () => {
  it('edit in a namespace opens console, VNC and port-forward and reads metrics there, and nowhere else', () => {
    expect(answers('alice', TEAM)).toEqual({ console: true, vnc: true, portforward: true, metrics: true });
    expect(answers('alice', OTHER)).toEqual({ console: false, vnc: false, portforward: false, metrics: false });
    expect(allowed('alice', { verb: 'create', group: 'kubevmm.io', resource: 'virtualmachines', namespace: TEAM })).toBe(true);
  });

  it('view reads VMs and their metrics, and is refused console, VNC and port-forward', () => {
    expect(answers('bob', TEAM)).toEqual({ console: false, vnc: false, portforward: false, metrics: true });
    expect(allowed('bob', { verb: 'list', group: 'kubevmm.io', resource: 'virtualmachines', namespace: TEAM })).toBe(true);
    expect(allowed('bob', { verb: 'patch', group: 'kubevmm.io', resource: 'virtualmachines', namespace: TEAM })).toBe(false);
  });

  it('edit uploads images (get and update on virtualmachineimages/upload) and creates them; view reads them and uploads nothing', () => {
    const upload = (verb: string, ns = TEAM): Attributes => ({ verb, group: 'subresources.kubevmm.io', resource: 'virtualmachineimages', subresource: 'upload', namespace: ns, name: 'debian-12' });
    expect(['get', 'update'].map((v) => allowed('alice', upload(v)))).toEqual([true, true]);
    expect(['get', 'update'].map((v) => allowed('alice', upload(v, OTHER)))).toEqual([false, false]);
    expect(['get', 'update'].map((v) => allowed('bob', upload(v)))).toEqual([false, false]);
    expect(allowed('alice', { verb: 'create', group: 'kubevmm.io', resource: 'virtualmachineimages', namespace: TEAM })).toBe(true);
    expect(allowed('bob', { verb: 'list', group: 'kubevmm.io', resource: 'virtualmachineimages', namespace: TEAM })).toBe(true);
    expect(allowed('bob', { verb: 'create', group: 'kubevmm.io', resource: 'virtualmachineimages', namespace: TEAM })).toBe(false);
    // status is the operator's: nobody's role writes it
    expect(allowed('dana', { verb: 'patch', group: 'kubevmm.io', resource: 'virtualmachineimages', subresource: 'status', namespace: TEAM })).toBe(false);
    expect(allowed(SERVER_SA, { verb: 'update', group: 'subresources.kubevmm.io', resource: 'virtualmachineimages', subresource: 'upload', namespace: TEAM })).toBe(false);
  });

  it('admin gets what edit gets', () => {
    expect(answers('dana', TEAM)).toEqual({ console: true, vnc: true, portforward: true, metrics: true });
  });

  it('a Role with resourceNames opens the console of that one VM only', () => {
    expect(answers('carol', TEAM, 'web')).toEqual({ console: true, vnc: false, portforward: false, metrics: false });
    expect(answers('carol', TEAM, 'db')).toEqual({ console: false, vnc: false, portforward: false, metrics: false });
    expect(allowed('carol', { verb: 'get', group: 'kubevmm.io', resource: 'virtualmachines', namespace: TEAM, name: 'web' })).toBe(false);
  });

  it('the SubjectAccessReview docs/rbac.md shows answers as the roles say', () => {
    const review = (user: string) =>
      kubectl(['create', '-f', '-', '-o', 'jsonpath={.status.allowed}'], { input: docBlock('Checking who may').replace('user: alice', `user: ${user}`).replace('namespace: team-a', `namespace: ${TEAM}`) }).stdout.trim();
    expect([review('alice'), review('bob'), review('carol'), review('nobody')]).toEqual(['true', 'false', 'true', 'false']);
  });

  it('the server’s ServiceAccount can open none of the four subresources, anywhere', () => {
    for (const ns of [TEAM, SYSTEM_NS]) expect(answers(SERVER_SA, ns)).toEqual({ console: false, vnc: false, portforward: false, metrics: false });
    expect(allowed(SERVER_SA, { verb: 'get', group: 'subresources.kubevmm.io', resource: 'virtualmachines', subresource: 'console' })).toBe(false);
  });

  it('the server’s ServiceAccount reads no Secret, execs into no pod and reviews no token', () => {
    for (const ns of [TEAM, SYSTEM_NS, 'kube-system']) {
      for (const verb of ['get', 'list', 'watch']) expect({ ns, verb, allowed: allowed(SERVER_SA, { verb, group: '', resource: 'secrets', namespace: ns }) }).toEqual({ ns, verb, allowed: false });
    }
    expect(allowed(SERVER_SA, { verb: 'get', group: '', resource: 'secrets', namespace: SYSTEM_NS, name: `${RELEASE}-subresources-client` })).toBe(false);
    expect(allowed(SERVER_SA, { verb: 'create', group: '', resource: 'pods', subresource: 'exec', namespace: TEAM })).toBe(false);
    expect(allowed(SERVER_SA, { verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews' })).toBe(false);
  });

  it('the server’s ServiceAccount has what it needs: reviews, the VM and its launcher pod, the front-proxy CA', () => {
    expect(allowed(SERVER_SA, { verb: 'create', group: 'authorization.k8s.io', resource: 'subjectaccessreviews' })).toBe(true);
    expect(allowed(SERVER_SA, { verb: 'get', group: 'kubevmm.io', resource: 'virtualmachines', namespace: TEAM, name: 'web' })).toBe(true);
    expect(allowed(SERVER_SA, { verb: 'get', group: '', resource: 'pods', namespace: TEAM, name: 'web-launcher' })).toBe(true);
    expect(allowed(SERVER_SA, { verb: 'get', group: '', resource: 'configmaps', namespace: 'kube-system', name: 'extension-apiserver-authentication' })).toBe(true);
    expect(allowed(SERVER_SA, { verb: 'get', group: '', resource: 'configmaps', namespace: 'kube-system', name: 'kube-root-ca.crt' })).toBe(false);
    expect(allowed(SERVER_SA, { verb: 'list', group: '', resource: 'pods', namespace: TEAM })).toBe(false);
  });
});
