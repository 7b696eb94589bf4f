// The chart's subresource server (ADR 0011) and VM user roles, as rendered: a hardened pod
// that mounts what the operator writes under the names the operator is told, an APIService
// pointing at its Service with the caBundle left to the operator, a ServiceAccount with
// exactly the rights docs/rbac.md lists, and user roles that aggregate into view, edit and
// admin with streams for users and admins only.
import { Command } from 'commander';
import { subresourceSettings, withSubresourceOptions } from '../../operator/subresource-options.js';
import { pick, template, type Manifest } from './helpers/helm.js';
import { operatorEnv, pod } from './helpers/pods.js';
import { grantedLines, roleLines, ruleStrings } from './helpers/rbac.js';

const SERVER = 'kubevmm-subresources';

describe('helm/kubevmm: the subresource server', () => {
  let objects: Manifest[];
  beforeAll(async () => {
    objects = await template();
  });

  it('runs unprivileged: non-root, read-only root, no capabilities, seccomp RuntimeDefault, no host namespaces or paths', () => {
    const deployment = pick(objects, 'Deployment', SERVER);
    const spec = pod(deployment);
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.containers).toHaveLength(1);
    expect(spec.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect([spec.hostNetwork, spec.hostPID, ...spec.volumes.map((v) => v.hostPath)].filter(Boolean)).toEqual([]);
    expect(spec.serviceAccountName).toBe(SERVER);
    expect(pick(objects, 'ServiceAccount', SERVER)).toBeDefined();
    expect(pick(objects, 'PodDisruptionBudget', SERVER).spec).toMatchObject({ minAvailable: 1 });
  });

  it('runs dist/subresources.mjs from the operator image, probed over HTTPS on /readyz and /healthz', () => {
    const [server] = pod(pick(objects, 'Deployment', SERVER)).containers;
    const [operator] = pod(pick(objects, 'Deployment', 'kubevmm')).containers;
    expect(server?.image).toBe(operator?.image);
    expect(server?.command).toEqual(['node', '/app/subresources.mjs']);
    expect(server?.args).toEqual(['--port=8443', '--tls-cert=/var/run/kubevmm/serving/tls.crt', '--tls-key=/var/run/kubevmm/serving/tls.key', '--launcher-client-dir=/var/run/kubevmm/launcher-client']);
    expect(server?.ports).toEqual([{ name: 'https', containerPort: 8443, protocol: 'TCP' }]);
    expect(server?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
    expect(server?.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
  });

  it('mounts the two Secrets the operator is told to write: the serving pair without the CA key, and the launcher client files', () => {
    const env = operatorEnv(objects);
    const spec = pod(pick(objects, 'Deployment', SERVER));
    const volume = (name: string) => spec.volumes.find((v) => v.name === name)?.secret;
    expect(volume('serving')).toMatchObject({ secretName: env.KUBEVMM_SUBRESOURCES_SERVING_SECRET, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }] });
    expect(volume('launcher-client')).toMatchObject({ secretName: env.KUBEVMM_SUBRESOURCES_CLIENT_SECRET, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }, { key: 'ca.crt', path: 'ca.crt' }] });
    expect(spec.containers[0]?.volumeMounts).toEqual([
      { name: 'serving', mountPath: '/var/run/kubevmm/serving', readOnly: true },
      { name: 'launcher-client', mountPath: '/var/run/kubevmm/launcher-client', readOnly: true },
    ]);
  });

  it('registers the APIService v1alpha1.subresources.kubevmm.io on its Service (443 -> 8443), leaving caBundle to the operator', () => {
    const apiService = pick(objects, 'APIService');
    const spec = apiService.spec as Record<string, unknown>;
    expect(apiService.metadata.name).toBe('v1alpha1.subresources.kubevmm.io');
    expect(spec).toEqual({ group: 'subresources.kubevmm.io', version: 'v1alpha1', groupPriorityMinimum: 1000, versionPriority: 15, service: { name: SERVER, namespace: 'kubevmm-system', port: 443 } });
    const service = pick(objects, 'Service', SERVER).spec as { selector: Record<string, string>; ports: { port: number; targetPort: string }[] };
    expect(service.ports).toEqual([{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    const labels = (pick(objects, 'Deployment', SERVER).spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(labels).toMatchObject(service.selector);
  });

  it('hands the operator the names in a form it accepts: the Service, both Secrets and the APIService', () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, operatorEnv(objects));
      const cmd = withSubresourceOptions(new Command()).exitOverride();
      cmd.parse([], { from: 'user' });
      expect(subresourceSettings(cmd.opts())).toEqual({ service: SERVER, servingSecret: `${SERVER}-serving`, clientSecret: `${SERVER}-client`, apiService: pick(objects, 'APIService').metadata.name });
    } finally {
      process.env = saved;
    }
  });

  it('grants its ServiceAccount exactly: create subjectaccessreviews, get virtualmachines and virtualmachineimages, get pods; the auth ConfigMap only through the built-in Role', () => {
    // Exactly these lines: a test that fails when someone adds secrets, a wildcard or any other right.
    expect(grantedLines(objects, 'subresources')).toEqual(['create authorization.k8s.io/subjectaccessreviews cluster', 'get core/pods cluster', 'get kubevmm.io/virtualmachineimages cluster', 'get kubevmm.io/virtualmachines cluster']);
    const serverRoles = objects.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'subresources' && /Role$/.test(o.kind));
    expect(ruleStrings(serverRoles).filter((s) => s.includes('*') || s.includes('secret') || s.includes('tokenreview'))).toEqual([]);
    const bindings = objects.filter((o) => /Binding$/.test(o.kind) && (o.subjects as { name: string }[]).some((s) => s.name === SERVER));
    expect(bindings.map((b) => [b.kind, b.metadata.namespace ?? '', (b.roleRef as { kind: string; name: string }).kind, (b.roleRef as { name: string }).name]).sort()).toEqual([
      ['ClusterRoleBinding', '', 'ClusterRole', SERVER],
      ['RoleBinding', 'kube-system', 'Role', 'extension-apiserver-authentication-reader'],
    ]);
  });

  it('keeps to DNS, the API server, the launchers’ control port and the importers’ API when networkPolicy is on', () => {
    const policy = pick(objects, 'NetworkPolicy', SERVER).spec as { podSelector: { matchLabels: Record<string, string> }; ingress: unknown[]; egress: { to?: unknown[]; ports: { port: number | string }[] }[] };
    expect(policy.podSelector.matchLabels['app.kubernetes.io/component']).toBe('subresources');
    expect(policy.ingress).toEqual([{ ports: [{ port: 'https', protocol: 'TCP' }] }]);
    expect(policy.egress.map((e) => e.ports.map((p) => p.port))).toEqual([[53, 53], [443, 6443], [9500], [9501]]);
    expect(policy.egress[2]?.to).toEqual([{ namespaceSelector: {}, podSelector: { matchExpressions: [{ key: 'kubevmm.io/vm', operator: 'Exists' }] } }]);
    // uploads are relayed to importer pods, whose NetworkPolicy takes them from this server
    expect(policy.egress[3]?.to).toEqual([{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'kubevmm-importer' } } }]);
  });

  it('names the fix when values predate it (helm upgrade --reuse-values from an older release renders without them)', async () => {
    for (const key of ['subresources', 'userRoles']) {
      await expect(template({ [key]: 'null' })).rejects.toThrow(new RegExp(`values have no "${key}".*--reset-then-reuse-values`));
    }
  });

  it('is gone with subresources.enabled=false: no server objects, no APIService, nothing for the operator to keep', async () => {
    const off = await template({ 'subresources.enabled': false });
    expect(off.filter((o) => o.metadata.name.startsWith(SERVER) || o.kind === 'APIService').map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
    expect(Object.keys(operatorEnv(off)).filter((k) => k.startsWith('KUBEVMM_SUBRESOURCES_'))).toEqual([]);
  });
});

describe('helm/kubevmm: VM user roles', () => {
  const readable = ['virtualmachineclasses', 'virtualmachineimages', 'virtualmachines'];
  const read = [
    ...['get', 'list', 'watch'].flatMap((v) => readable.map((r) => `${v} kubevmm.io/${r} cluster`)),
    'get kubevmm.io/virtualmachineimages/status cluster',
    'get kubevmm.io/virtualmachines/status cluster',
  ];
  const write = ['create', 'delete', 'deletecollection', 'patch', 'update'].flatMap((v) => [`${v} kubevmm.io/virtualmachines cluster`, `${v} kubevmm.io/virtualmachineimages cluster`]);
  const streams = [...['console', 'vnc', 'portforward'].map((s) => `get subresources.kubevmm.io/virtualmachines/${s} cluster`), 'get subresources.kubevmm.io/virtualmachineimages/upload cluster', 'update subresources.kubevmm.io/virtualmachineimages/upload cluster'];
  const metrics = 'get subresources.kubevmm.io/virtualmachines/metrics cluster';
  let objects: Manifest[];
  beforeAll(async () => {
    objects = await template();
  });

  it.each([
    ['kubevmm-vm-viewer', 'view', [...read, metrics]],
    ['kubevmm-vm-user', 'edit', [...read, ...write, ...streams, metrics]],
    ['kubevmm-vm-admin', 'admin', [...read, ...write, ...streams, metrics]],
  ])('%s aggregates into %s with exactly its rules', (name, builtIn, lines) => {
    const role = pick(objects, 'ClusterRole', name);
    const aggregation = Object.entries(role.metadata.labels ?? {}).filter(([k]) => k.startsWith('rbac.authorization.k8s.io/'));
    expect(aggregation).toEqual([[`rbac.authorization.k8s.io/aggregate-to-${builtIn}`, 'true']]);
    expect(roleLines(objects, name)).toEqual([...lines].sort());
  });

  it('never lets a viewer open a console, VNC or a port-forward, nor write a VM; nobody writes classes or status', () => {
    const viewer = roleLines(objects, 'kubevmm-vm-viewer');
    expect(viewer.filter((l) => streams.includes(l) || write.includes(l))).toEqual([]);
    const all = grantedLines(objects, 'user-roles');
    expect(all.filter((l) => /^(create|update|patch|delete|deletecollection) kubevmm\.io\/(virtualmachineclasses|virtualmachines\/status) /.test(l))).toEqual([]);
    expect(all.filter((l) => l.includes('pods') || l.includes('*'))).toEqual([]);
  });

  it('can be kept out of the built-in roles, or left out', async () => {
    const unaggregated = await template({ 'userRoles.aggregateToDefaultRoles': false });
    const labels = unaggregated.filter((o) => o.metadata.name.startsWith('kubevmm-vm-')).flatMap((o) => Object.keys(o.metadata.labels ?? {}));
    expect(labels.filter((k) => k.startsWith('rbac.authorization.k8s.io/'))).toEqual([]);
    expect(grantedLines(await template({ 'userRoles.enabled': false }), 'user-roles')).toEqual([]);
  });
});
