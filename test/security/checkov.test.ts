// checkov (PyPI, installed by scripts/install-deps.sh) over what kubevmm puts into a cluster:
// the chart rendered in its supported shapes, and the launcher and attachment pods the
// operator renders (with the NetworkPolicies its launcherNetworkPolicy mode writes beside
// them). Every finding must be one docs/security.md lists with its reason, and every listed
// exception must still be found: the table is the exception list, and cannot go stale.
import { execFile } from 'node:child_process';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { renderAttachmentPod, renderHotplugService } from '../../operator/render/attachment.js';
import { renderImageNetworkPolicies, renderLauncherNetworkPolicies } from '../../operator/render/network-policy.js';
import { renderImporterPod } from '../../operator/render/importer.js';
import { renderSourcePod } from '../../operator/render/source-pod.js';
import { renderLauncherPod } from '../../operator/render/pod.js';
import { template } from '../helm/helpers/helm.js';

const run = promisify(execFile);
const INSTALL_HINT = 'bash scripts/install-deps.sh (installs PyPI checkov into ~/.cache/kubevmm/tools)';

async function findCheckov(): Promise<string> {
  const tools = process.env.KUBEVMM_TOOLS ?? join(homedir(), '.cache/kubevmm/tools');
  const candidates = [join(tools, 'bin/checkov'), ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'checkov'))];
  for (const c of candidates) if (await access(c, constants.X_OK).then(() => true, () => false)) return c;
  throw new Error(`checkov is missing (looked in ${candidates[0]} and PATH); install it with: ${INSTALL_HINT}`);
}

const vm = (name: string, spec: VirtualMachine['spec']): VirtualMachine => ({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'team', uid: `uid-${name}` }, spec });

/** What the operator renders for a few VMs: every volume kind, a dedicated VM, a hotplugged disk. */
function operatorObjects(): object[] {
  const web = vm('web', {
    memory: { guest: '1Gi' },
    disks: [
      { name: 'root', persistentVolumeClaim: { claimName: 'root' } },
      { name: 'os', containerDisk: { image: 'registry.example/os:1' } },
      { name: 'scratch', emptyDisk: { capacity: '1Gi' } },
      { name: 'ci', cloudInit: { userData: '#cloud-config' } },
      { name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'data' } },
    ],
  });
  const db = vm('db', { cpu: { cores: 2, dedicated: true }, memory: { guest: '2Gi', hugepages: '2Mi' }, disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'db' } }] });
  const config = { ...DEFAULT_CONFIG, launcherImage: 'ghcr.io/kubevmm/launcher:0.1.0' };
  return [
    renderLauncherPod({ vm: web, config }),
    renderLauncherPod({ vm: db, config, pvcs: { db: { mode: 'Block', sizeBytes: 2 ** 30 } } }),
    renderAttachmentPod({ vm: web, config, disk: { name: 'data', claimName: 'data', readOnly: false }, node: 'node-a', pvc: { mode: 'Filesystem', sizeBytes: 2 ** 30 } }),
    renderHotplugService(web),
    // An image importer (registry copy, Block target) and a VM disk's copy pod (Filesystem, source claim).
    renderImporterPod({
      name: 'os-importer', namespace: 'team', owner: { kind: 'VirtualMachineImage', name: 'os', uid: 'uid-os', generation: 1 }, labels: { 'kubevmm.io/image': 'os' }, launcherImage: config.launcherImage,
      task: { source: { kind: 'file', path: '/var/run/kubevmm/import/scratch/registry-disk' }, target: { mode: 'Block', capacityBytes: 2 ** 30 } },
      target: { claimName: 'os-image', mode: 'Block' }, registry: { image: 'registry.example/os:1', path: '/disk' }, scratchBytes: 2 ** 30, credentialsSecret: 'os-importer-credentials',
    }),
    renderImporterPod({
      name: 'web-copy-root', namespace: 'team', owner: { kind: 'VirtualMachine', name: 'web', uid: 'uid-web', generation: 1 }, labels: { 'kubevmm.io/vm': 'web' }, launcherImage: config.launcherImage,
      task: { source: { kind: 'file', path: '/var/run/kubevmm/import/source/disk.img' }, target: { mode: 'Filesystem', capacityBytes: 2 ** 30 } },
      target: { claimName: 'web-root', mode: 'Filesystem' }, source: { claimName: 'os-image', mode: 'Filesystem' }, scratchBytes: 2 ** 30, credentialsSecret: 'web-launcher-credentials',
    }),
    // A source pod serving a Block claim of namespace golden to an image of namespace team (ADR 0019).
    renderSourcePod({ image: { name: 'os', namespace: 'team', uid: '6f1c2e0a-1b2c-4d3e-8f40-516273849abc', generation: 1 }, claim: { name: 'os-golden', namespace: 'golden', mode: 'Block' }, launcherImage: config.launcherImage }),
    ...renderLauncherNetworkPolicies('team', { controlFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kubevmm-system' } } }], guestFrom: [] }),
    ...renderImageNetworkPolicies('team', { controlFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kubevmm-system' } } }], guestFrom: [] }),
  ];
}

/** The part of kubevmm a checkov resource id (`Kind.namespace.name`) belongs to. */
function component(resource: string): string {
  const [kind = '', , name = ''] = resource.split('.');
  if (kind === 'Pod') return /-hotplug-/.test(name) ? 'attachment pod' : /-importer$|-copy-/.test(name) ? 'importer pod' : /^kubevmm-source-/.test(name) ? 'source pod' : 'launcher pod';
  if (kind === 'DaemonSet') return 'device plugin';
  if (kind === 'Deployment') return /-subresources$/.test(name) ? 'subresource server' : 'operator';
  if (kind === 'ClusterRole' || kind === 'Role') return /-subresources$/.test(name) ? 'subresource server RBAC' : /^kubevmm-vm-/.test(name) ? 'user roles' : 'operator RBAC';
  return `${kind} ${name}`;
}

/** The exceptions table of docs/security.md: check id -> the components it is accepted for. */
async function documentedExceptions(): Promise<Map<string, Set<string>>> {
  const doc = await readFile('docs/security.md', 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith('checkov exceptions'));
  if (!section) throw new Error('docs/security.md has no "## checkov exceptions" section');
  const out = new Map<string, Set<string>>();
  for (const line of section.split('\n')) {
    const cells = /^\| (CKV2?_K8S_\d+) \| ([^|]+) \|/.exec(line);
    if (cells) out.set(cells[1]!, new Set(cells[2]!.split(',').map((c) => c.trim())));
  }
  return out;
}

interface Failure {
  check_id: string;
  resource: string;
  check_name: string;
}

describe('checkov over the chart and the rendered pods', () => {
  let dir: string;
  let failures: Failure[];

  beforeAll(async () => {
    const checkov = await findCheckov();
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-checkov-'));
    const shapes: Record<string, Record<string, string | boolean>> = {
      defaults: {},
      'network-policies': { 'launcherNetworkPolicy.enabled': true },
      'cert-manager': { 'webhook.certManager.enabled': true, 'metrics.serviceMonitor.enabled': true },
    };
    for (const [name, set] of Object.entries(shapes)) {
      const objects = await template(set);
      await writeFile(join(dir, `chart-${name}.yaml`), objects.map((o) => stringify(o)).join('---\n'));
    }
    await writeFile(join(dir, 'operator-rendered.yaml'), operatorObjects().map((o) => stringify(o)).join('---\n'));
    // checkov exits 1 when anything fails; the findings are what is judged.
    const out = await run(checkov, ['-d', dir, '--framework', 'kubernetes', '-o', 'json', '--skip-download', '--quiet'], { maxBuffer: 64 * 1024 * 1024 }).catch((err: { stdout?: string; stderr?: string }) => {
      if (!err.stdout) throw new Error(`checkov failed: ${err.stderr ?? String(err)}`);
      return { stdout: err.stdout };
    });
    const report = JSON.parse(out.stdout) as { results?: { failed_checks?: Failure[] } } | { results?: { failed_checks?: Failure[] } }[];
    failures = (Array.isArray(report) ? report : [report]).flatMap((r) => r.results?.failed_checks ?? []);
  }, 300_000);

  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('finds nothing beyond the exceptions docs/security.md lists with their reasons', async () => {
    const documented = await documentedExceptions();
    const undocumented = failures.filter((f) => !documented.get(f.check_id)?.has(component(f.resource))).map((f) => `${f.check_id} ${f.resource} (${component(f.resource)}): ${f.check_name}`);
    expect([...new Set(undocumented)]).toEqual([]);
  });

  it('still finds every exception listed (no stale entry in the table)', async () => {
    const documented = await documentedExceptions();
    const found = new Set(failures.map((f) => `${f.check_id} ${component(f.resource)}`));
    const stale = [...documented].flatMap(([id, parts]) => [...parts].filter((p) => !found.has(`${id} ${p}`)).map((p) => `${id} ${p}`));
    expect(stale).toEqual([]);
  });
});
