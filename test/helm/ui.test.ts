// The chart's web console (docs/ui.md, ADR 0018), as rendered: a hardened pod that holds no
// rights (no token mounted, its ServiceAccount bound to nothing), serving HTTPS with the
// certificate the operator keeps under the names the operator is told, trusting the API server
// with the cluster's CA; a NetworkPolicy that lets it reach only DNS and the API server.
import { Command } from 'commander';
import { uiSettings, withUiOptions } from '../../operator/ui-credentials.js';
import { pick, template, type Manifest } from './helpers/helm.js';

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet: { path: string; port: string; scheme: string } };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  serviceAccountName: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes: { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] }; configMap?: { name: string; items?: { key: string; path: string }[] }; hostPath?: unknown; projected?: unknown }[];
  hostNetwork?: boolean;
}

const UI = 'kubevmm-ui';
const pod = (d: Manifest) => (d.spec as { template: { spec: PodSpec } }).template.spec;
const operatorEnv = (objects: Manifest[]) =>
  Object.fromEntries((pod(pick(objects, 'Deployment', 'kubevmm')).containers[0]?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));

/** The operator's UI settings as its flags parse the chart's environment. */
function settingsFrom(objects: Manifest[]) {
  const saved = process.env;
  process.env = { ...saved };
  try {
    Object.assign(process.env, operatorEnv(objects));
    const cmd = withUiOptions(new Command()).exitOverride();
    cmd.parse([], { from: 'user' });
    return uiSettings(cmd.opts());
  } finally {
    process.env = saved;
  }
}

describe('helm/kubevmm: the web console', () => {
  let objects: Manifest[];
  beforeAll(async () => {
    objects = await template();
  });

  it('runs unprivileged: non-root, read-only root, no capabilities, seccomp RuntimeDefault, no host access', () => {
    const spec = pod(pick(objects, 'Deployment', UI));
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.containers).toHaveLength(1);
    expect(spec.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect([spec.hostNetwork, ...spec.volumes.map((v) => v.hostPath)].filter(Boolean)).toEqual([]);
  });

  it('holds no rights: no token mounted, and no Role, ClusterRole or binding names its ServiceAccount', () => {
    const spec = pod(pick(objects, 'Deployment', UI));
    expect(spec.serviceAccountName).toBe(UI);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(pick(objects, 'ServiceAccount', UI)).toMatchObject({ automountServiceAccountToken: false });
    expect(spec.volumes.filter((v) => v.projected)).toEqual([]);
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
    const ours = bindings.filter((b) => ((b as { subjects?: { name: string }[] }).subjects ?? []).some((s) => s.name === UI));
    expect(ours.map((b) => `${b.kind}/${b.metadata.name}`)).toEqual([]);
    expect(objects.filter((o) => (o.kind === 'Role' || o.kind === 'ClusterRole') && o.metadata.labels?.['app.kubernetes.io/component'] === 'ui')).toEqual([]);
  });

  it('runs /app/ui-server.mjs from the operator image over HTTPS, behind a Service on 443', () => {
    const container = pod(pick(objects, 'Deployment', UI)).containers[0]!;
    expect(container.image).toBe(pod(pick(objects, 'Deployment', 'kubevmm')).containers[0]!.image);
    expect(container.command).toEqual(['node', '/app/ui-server.mjs']);
    expect(container.args).toEqual(['--port=8443', '--namespace=default']);
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/config.json', port: 'https', scheme: 'HTTPS' });
    expect(pick(objects, 'Service', UI).spec).toMatchObject({ ports: [{ name: 'https', port: 443, targetPort: 'https' }], selector: { 'app.kubernetes.io/component': 'ui' } });
  });

  it('mounts the serving pair of the Secret the operator is told to keep (not its CA key) and the cluster CA ConfigMap', () => {
    const spec = pod(pick(objects, 'Deployment', UI));
    const serving = spec.volumes.find((v) => v.name === 'serving');
    expect(serving?.secret).toMatchObject({ secretName: `${UI}-serving`, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }] });
    expect(spec.volumes.find((v) => v.name === 'kube-root-ca')?.configMap).toEqual({ name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
    expect(spec.containers[0]?.volumeMounts).toEqual([
      { name: 'serving', mountPath: '/var/run/kubevmm/serving', readOnly: true },
      { name: 'kube-root-ca', mountPath: '/var/run/kubevmm/kube-root-ca', readOnly: true },
    ]);
    expect(settingsFrom(objects)).toEqual({ service: UI, servingSecret: `${UI}-serving`, dnsNames: [] });
  });

  it('passes OIDC settings to the app and extra certificate names to the operator', async () => {
    const custom = await template({ 'ui.oidc.issuerUrl': 'https://idp.example.com', 'ui.oidc.clientId': 'kubevmm', 'ui.oidc.scopes[0]': 'groups', 'ui.tls.dnsNames[0]': 'console.example.com' });
    expect(pod(pick(custom, 'Deployment', UI)).containers[0]?.args).toEqual(['--port=8443', '--namespace=default', '--oidc-issuer-url=https://idp.example.com', '--oidc-client-id=kubevmm', '--oidc-scope=groups']);
    expect(settingsFrom(custom)?.dnsNames).toEqual(['console.example.com']);
  });

  it('reaches only DNS and the API server when networkPolicy is on; ingress from ui.from', async () => {
    const policy = pick(objects, 'NetworkPolicy', UI).spec as { podSelector: { matchLabels: Record<string, string> }; ingress: unknown[]; egress: { ports: { port: number }[] }[] };
    expect(policy.podSelector.matchLabels['app.kubernetes.io/component']).toBe('ui');
    expect(policy.ingress).toEqual([{ ports: [{ port: 'https', protocol: 'TCP' }] }]);
    expect(policy.egress.map((e) => e.ports.map((p) => p.port))).toEqual([[53, 53], [443, 6443]]);
    const from = await template({ 'ui.from[0].namespaceSelector.matchLabels.name': 'ingress' });
    expect((pick(from, 'NetworkPolicy', UI).spec as { ingress: unknown[] }).ingress).toEqual([{ ports: [{ port: 'https', protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { name: 'ingress' } } }] }]);
  });

  it('refuses an http issuer and names the fix when values predate it', async () => {
    await expect(template({ 'ui.oidc.issuerUrl': 'http://idp' })).rejects.toThrow(/issuerUrl/);
    await expect(template({ ui: 'null' })).rejects.toThrow(/values have no "ui".*--reset-then-reuse-values/);
  });

  it('is gone with ui.enabled=false: no console objects, no certificate for the operator to keep', async () => {
    const off = await template({ 'ui.enabled': false });
    expect(off.filter((o) => o.metadata.name.startsWith(UI)).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
    expect(settingsFrom(off)).toBeUndefined();
  });
});
