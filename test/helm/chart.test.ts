// The Helm chart as a platform team reads it: it lints, renders in every supported shape,
// grants exactly the operator's API calls, starts hardened pods, and passes its values to
// the operator in a form the operator accepts.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { OPERATOR_API_CALLS } from '../../operator/kube/client.js';
import { configFromOptions, withConfigOptions } from '../../operator/config.js';
import { parseLauncherNetworkPolicy } from '../../operator/render/network-policy.js';
import { CHART_DIR, helm, pick, template, type Manifest } from './helpers/helm.js';

/** The operator's Deployment (the subresource server has one too). */
const operatorDeployment = (objects: Manifest[]) => pick(objects, 'Deployment', 'kubevmm');
import { grantedLines, neededLines, ruleStrings } from './helpers/rbac.js';

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  securityContext?: Record<string, unknown>;
}

function podSpec(o: Manifest): { securityContext?: Record<string, unknown>; containers: Container[] } {
  return (o.spec as { template: { spec: { securityContext?: Record<string, unknown>; containers: Container[] } } }).template.spec;
}

function envOf(deployment: Manifest): Record<string, string> {
  const env = podSpec(deployment).containers[0]?.env ?? [];
  return Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

describe('helm/kubevmm', () => {
  it('passes helm lint --strict', async () => {
    const out = await helm('lint', CHART_DIR, '--strict', '--kube-version', '1.37.2');
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it.each([
    ['defaults', {}],
    ['cert-manager and ServiceMonitor', { 'webhook.certManager.enabled': true, 'metrics.serviceMonitor.enabled': true }],
    ['no webhook, no device plugin, no network policies, 0 replicas', { 'webhook.enabled': false, 'devicePlugin.enabled': false, 'networkPolicy.enabled': false, replicaCount: 0 }],
    ['no subresource server, no user roles', { 'subresources.enabled': false, 'userRoles.enabled': false }],
  ])('renders with %s', async (_name, set) => {
    const objects = await template(set);
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['Deployment', 'ServiceAccount', 'ClusterRole', 'Role', 'Service']));
    for (const o of objects) expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });

  it('refuses values outside the schema, naming the value', async () => {
    await expect(template({ accelerator: 'qemu' })).rejects.toThrow(/accelerator.*kvm.*tcg.*auto/s);
    await expect(template({ cpuAllocationRatio: 0 })).rejects.toThrow(/cpuAllocationRatio/);
    await expect(template({ webhoook: true })).rejects.toThrow(/webhoook/);
  });

  it('ships the CRDs of crds/, byte for byte', () => {
    const ours = readdirSync('crds').sort();
    expect(readdirSync(join(CHART_DIR, 'crds')).sort()).toEqual(ours);
    for (const file of ours) expect(readFileSync(join(CHART_DIR, 'crds', file), 'utf8')).toBe(readFileSync(join('crds', file), 'utf8'));
  });

  it('grants exactly the API calls the operator makes (OPERATOR_API_CALLS), no wildcards', async () => {
    const objects = await template();
    expect(grantedLines(objects)).toEqual(neededLines(OPERATOR_API_CALLS, ['subresources']));
    expect(ruleStrings(objects)).not.toContain('*');
    // Without the subresource server, no APIService right either.
    expect(grantedLines(await template({ 'subresources.enabled': false }))).toEqual(neededLines(OPERATOR_API_CALLS));
  });

  it('grants no read of Secrets outside its namespace: only create and update there, and get by name at home', async () => {
    const objects = await template();
    const secrets = grantedLines(objects).filter((l) => l.includes('core/secrets'));
    expect(secrets).toEqual(['create core/secrets cluster', 'get core/secrets own-namespace', 'update core/secrets cluster']);
    const role = pick(objects, 'Role');
    const secretRule = (role.rules as { resources: string[]; resourceNames?: string[] }[]).find((r) => r.resources.includes('secrets'));
    expect(secretRule?.resourceNames).toEqual(['kubevmm-launcher-ca', 'kubevmm-webhook-tls', 'kubevmm-subresources-serving', 'kubevmm-subresources-client', 'kubevmm-ui-serving']);
    const env = envOf(operatorDeployment(objects));
    expect(env.KUBEVMM_LAUNCHER_CA_SECRET).toBe('kubevmm-launcher-ca');
    expect([env.KUBEVMM_SUBRESOURCES_SERVING_SECRET, env.KUBEVMM_SUBRESOURCES_CLIENT_SECRET, env.KUBEVMM_UI_SERVING_SECRET]).toEqual(['kubevmm-subresources-serving', 'kubevmm-subresources-client', 'kubevmm-ui-serving']);
  });

  it('launcherNetworkPolicy: off by default; on, it grants the NetworkPolicy writes and hands the operator its peers', async () => {
    expect(envOf(operatorDeployment(await template())).KUBEVMM_LAUNCHER_NETWORK_POLICY).toBeUndefined();
    const monitoring = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };
    const objects = await template({ 'launcherNetworkPolicy.enabled': true, 'launcherNetworkPolicy.controlFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name': 'monitoring' });
    expect(grantedLines(objects)).toEqual(neededLines(OPERATOR_API_CALLS, ['launcherNetworkPolicy', 'subresources']));
    const settings = parseLauncherNetworkPolicy(envOf(operatorDeployment(objects)).KUBEVMM_LAUNCHER_NETWORK_POLICY!);
    const home = { matchLabels: { 'kubernetes.io/metadata.name': 'kubevmm-system' } };
    const pods = (component: string) => ({ matchLabels: { 'app.kubernetes.io/name': 'kubevmm', 'app.kubernetes.io/instance': 'kubevmm', 'app.kubernetes.io/component': component } });
    expect(settings.controlFrom).toEqual([{ namespaceSelector: home, podSelector: pods('operator') }, { namespaceSelector: home, podSelector: pods('subresources') }, monitoring]);
    expect(settings.guestFrom).toEqual([]);
    // The subresource server's own pods carry exactly the labels its peer selects.
    const server = pick(objects, 'Deployment', 'kubevmm-subresources').spec as { template: { metadata: { labels: Record<string, string> } } };
    expect(server.template.metadata.labels).toMatchObject(pods('subresources').matchLabels);
    const withoutServer = parseLauncherNetworkPolicy(envOf(operatorDeployment(await template({ 'launcherNetworkPolicy.enabled': true, 'subresources.enabled': false }))).KUBEVMM_LAUNCHER_NETWORK_POLICY!);
    expect(withoutServer.controlFrom).toEqual([{ namespaceSelector: home, podSelector: pods('operator') }]);
    // Importer pods: the operator and the subresource server only, never controlFrom's scrapers.
    expect(settings.importerFrom).toEqual([{ namespaceSelector: home, podSelector: pods('operator') }, { namespaceSelector: home, podSelector: pods('subresources') }]);
    expect(withoutServer.importerFrom).toEqual([{ namespaceSelector: home, podSelector: pods('operator') }]);
  });

  it('networkPolicy: the operator reaches importer pods’ API (9501) as well as launchers’ control port, and nothing else of theirs', async () => {
    const policy = pick(await template(), 'NetworkPolicy', 'kubevmm-operator').spec as { egress: { to?: unknown[]; ports: { port: number }[] }[] };
    const podRules = policy.egress.filter((e) => e.to).map((e) => [e.ports.map((p) => p.port), e.to]);
    expect(podRules).toEqual([
      [[9500], [{ namespaceSelector: {}, podSelector: { matchExpressions: [{ key: 'kubevmm.io/vm', operator: 'Exists' }] } }]],
      [[9501], [{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'kubevmm-importer' } } }]],
    ]);
  });

  it('with cert-manager, the operator may no longer touch its webhook configuration', async () => {
    const granted = grantedLines(await template({ 'webhook.certManager.enabled': true }));
    expect(granted.filter((l) => l.includes('validatingwebhookconfigurations'))).toEqual([]);
    expect(neededLines(OPERATOR_API_CALLS, ['subresources'])).toEqual(expect.arrayContaining(granted));
  });

  it('runs the operator hardened: non-root, read-only root, no capabilities, no privilege escalation', async () => {
    const deployment = operatorDeployment(await template());
    const spec = podSpec(deployment);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    expect(pick(await template(), 'PodDisruptionBudget', 'kubevmm').spec).toMatchObject({ minAvailable: 1 });
  });

  it('hands the operator settings from values in a form the operator accepts', async () => {
    const values = { accelerator: 'tcg', cpuAllocationRatio: 4, memoryOvercommitPercent: 150, launcherImage: 'registry.local/launcher:9', hotplugPorts: 8, kvmResourceName: 'example.com/kvm', containerDiskDelivery: 'copy' };
    const env = envOf(operatorDeployment(await template(values)));
    const saved = { ...process.env };
    try {
      Object.assign(process.env, env);
      const cmd = withConfigOptions(new Command()).exitOverride();
      cmd.parse([], { from: 'user' });
      expect(configFromOptions(cmd.opts())).toEqual(values);
      expect(env.KUBEVMM_DEFAULT_IMAGE_SIZE).toBe('10Gi'); // --default-image-size, checked by the operator at start
    } finally {
      process.env = saved;
    }
  });

  it('fails the webhook closed for VirtualMachines, classes and images and points it at the operator', async () => {
    const objects = await template();
    const config = pick(objects, 'ValidatingWebhookConfiguration');
    const hooks = config.webhooks as { name: string; failurePolicy: string; clientConfig: { service: { name: string; path: string } } }[];
    expect(hooks.map((h) => [h.name, h.failurePolicy, h.clientConfig.service.path])).toEqual([
      ['virtualmachines.validate.kubevmm.io', 'Fail', '/validate/virtualmachines'],
      ['virtualmachineclasses.validate.kubevmm.io', 'Fail', '/validate/virtualmachineclasses'],
      ['virtualmachineimages.validate.kubevmm.io', 'Fail', '/validate/virtualmachineimages'],
    ]);
    // An image copying another namespace's claim is checked only here: namespaced, like VMs.
    expect((config.webhooks as { rules: { scope: string }[] }[]).map((h) => h.rules[0]?.scope)).toEqual(['Namespaced', 'Cluster', 'Namespaced']);
    const service = pick(objects, 'Service', hooks[0]!.clientConfig.service.name);
    expect(envOf(operatorDeployment(objects)).KUBEVMM_WEBHOOK_SERVICE).toBe(service.metadata.name);
  });
});
