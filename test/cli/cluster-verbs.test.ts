// The cluster verbs as users run them: `kubevmm` and `kubectl-vm` installed with
// `npm install --global` (a temporary prefix), run as processes against the real local control
// plane with the operator (its own process, its admission webhook called by the API server).
// KWOK runs the launcher pods as simulated pods (no QEMU), so a stand-in answers the
// operator's control API calls for them: status, pause/resume and disk attach/detach. What
// that cannot show (a guest really stopping, pausing, seeing a disk) is the real-node tier's.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../launcher/runtime/ports.js';
import { CONTROL_PLANE_TIMEOUT_MS, useControlPlaneWithCrds, type ControlPlane } from '../operator/helpers/control-plane.js';
import { startLauncherStandin, type LauncherStandin } from '../operator/helpers/launcher-standin.js';
import { createNamespace, getJson, kubectl, startOperator, waitFor, type OperatorProcess } from '../operator/helpers/operator-process.js';
import { installKubevmm, type InstalledKubevmm } from './helpers/kubevmm.js';

const RUN = Date.now().toString(36).slice(-5);
const NS = `cli-${RUN}`;
const CONFIG = `kubevmm-cli-test-${RUN}`;
const IMAGE = 'registry.example/os/debian:12';

let cp: ControlPlane;
let installed: InstalledKubevmm;
let launcher: LauncherStandin;
let operator: OperatorProcess | undefined;
let dir: string;
const pvs: string[] = [];

type Json = Record<string, any>;
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end without blocking this process: the launcher stand-in serving the
 * operator lives in it, and the verbs wait for what the operator hears from the stand-in.
 */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { env, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const kubevmm = (...args: string[]) => run(installed.bin, args);
const vm = (name = 'web') => getJson<Json>(['vm', '-n', NS, name]);
const launcherUid = (name = 'web') => getJson<Json>(['pod', '-n', NS, `${name}-launcher`])?.metadata.uid as string | undefined;

/** The ValidatingWebhookConfiguration calling the operator's webhook for VMs in this suite's namespace only. */
function webhookConfiguration(port: number): string {
  return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: { name: ${CONFIG} }
webhooks:
  - name: virtualmachines.validate.kubevmm.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 10
    namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${NS} } }
    rules:
      - { apiGroups: [kubevmm.io], apiVersions: [v1alpha1], operations: [CREATE, UPDATE], resources: [virtualmachines] }
    clientConfig: { url: "https://127.0.0.1:${port}/validate/virtualmachines" }
`;
}

/** A PVC bound to its own PersistentVolume, so the attachment pod using it can be scheduled. */
function boundClaim(name: string): void {
  const pv = { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `${NS}-${name}` }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', hostPath: { path: `/tmp/${NS}/${name}` }, claimRef: { namespace: NS, name } } };
  const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: NS }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pv.metadata.name, resources: { requests: { storage: '1Gi' } } } };
  kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pv, claim] }) });
  pvs.push(pv.metadata.name);
}

/** A kubeconfig for a ServiceAccount of this namespace (its token), pointing at the same API server. */
async function serviceAccountKubeconfig(sa: string): Promise<string> {
  const admin = JSON.parse(kubectl(['config', 'view', '--raw', '--minify', '-o', 'json']).stdout) as Json;
  const token = kubectl(['create', 'token', sa, '-n', NS, '--duration', '1h']).stdout.trim();
  const file = join(dir, `${sa}.kubeconfig`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: admin.clusters[0].cluster }],
    users: [{ name: sa, user: { token } }],
    contexts: [{ name: sa, context: { cluster: 'local', user: sa, namespace: NS } }],
    'current-context': sa,
  };
  await writeFile(file, JSON.stringify(config));
  return file;
}

beforeAll(async () => {
  installed = await installKubevmm();
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-cluster-verbs-'));
  cp = await useControlPlaneWithCrds();
  launcher = await startLauncherStandin();
  createNamespace(NS);
  const port = await freePort();
  kubectl(['apply', '-f', '-'], { input: webhookConfiguration(port) });
  operator = startOperator(['--no-leader-elect', '--accelerator', 'tcg', '--health-port', '0', '--resync-seconds', '30', '--lease-namespace', NS, '--webhook-port', String(port), '--webhook-extra-sans', '127.0.0.1', '--webhook-configuration', CONFIG]);
  await waitFor('the operator to put its CA into the webhook', () => getJson<Json>(['validatingwebhookconfiguration', CONFIG])?.webhooks[0].clientConfig.caBundle, 60_000);
  await waitFor('operator caches', () => operator?.logs().includes('caches synced'), 60_000);
}, CONTROL_PLANE_TIMEOUT_MS);

afterAll(async () => {
  // First: a fail-closed webhook left behind would refuse every later VM change in this namespace.
  kubectl(['delete', 'validatingwebhookconfiguration', CONFIG, '--ignore-not-found'], { allowFail: true });
  kubectl(['delete', 'vm', '--all', '-n', NS, '--wait=true', '--timeout=60s'], { allowFail: true });
  await operator?.stop();
  await launcher?.close();
  kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFail: true });
  for (const pv of pvs) kubectl(['delete', 'pv', pv, '--wait=false'], { allowFail: true });
  await cp?.release();
  await installed?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('installed as users install it', () => {
  it('npm install --global puts both kubevmm and kubectl-vm on the PATH', () => {
    expect(existsSync(installed.bin)).toBe(true);
    expect(existsSync(installed.plugin)).toBe(true);
  });

  it('npm pack: the package holds both bins and the bundle they run, which needs nothing else', async () => {
    const packed = await run('npm', ['pack', '--pack-destination', dir, '--json', '--silent'], { ...process.env, npm_config_loglevel: 'silent' });
    expect(packed.code).toBe(0);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['bin/kubevmm.js', 'bin/kubectl-vm.js', 'dist/cli/kubevmm.mjs', 'package.json']));
    expect(files.filter((f) => !/^(bin\/|dist\/cli\/|package\.json$|README\.md$)/.test(f))).toEqual([]);
    const unpacked = join(dir, 'unpacked');
    await mkdir(unpacked);
    expect((await run('tar', ['-xzf', join(dir, info!.filename), '-C', unpacked])).code).toBe(0);
    const help = await run(process.execPath, [join(unpacked, 'package', 'bin', 'kubectl-vm.js'), '--help'], { PATH: '' });
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: kubectl vm \[options\] \[command\]/);
    const validate = await run(process.execPath, [join(unpacked, 'package', 'bin', 'kubevmm.js'), 'validate', join(process.cwd(), 'examples', 'minimal.yaml')], { PATH: '' });
    expect(validate).toMatchObject({ code: 0, stderr: '' });
  }, 120_000);

  it('kubectl finds the plugin on a PATH holding only it (and node), and runs it as `kubectl vm`', async () => {
    const kubectlBin = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8', env: process.env }).stdout.trim();
    expect(kubectlBin).not.toBe('');
    const path = join(dir, 'path');
    await mkdir(path);
    await symlink(installed.plugin, join(path, 'kubectl-vm'));
    await symlink(process.execPath, join(path, 'node')); // the plugin's #!/usr/bin/env node
    const env = { PATH: path, KUBECONFIG: process.env.KUBECONFIG ?? '', HOME: dir };
    const help = await run(kubectlBin, ['vm', '--help'], env);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: kubectl vm \[options\] \[command\]/);
    expect(help.stdout).toMatch(/^\s+addvolume \[options\] <name>/m);
    const usage = await run(kubectlBin, ['vm', 'stop'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/error: missing required argument 'name'/);
  });
});

describe('cluster verbs against the control plane', () => {
  it('create vm --apply: the webhook admits it (created, then configured); a class that does not exist is refused', async () => {
    const created = await kubevmm('create', 'vm', 'web', '-n', NS, '--container-disk', IMAGE, '--apply');
    expect(created).toMatchObject({ code: 0, stdout: 'virtualmachine.kubevmm.io/web created\n', stderr: '' });
    expect(vm()?.spec).toEqual({ memory: { guest: '1Gi' }, disks: [{ name: 'root', containerDisk: { image: IMAGE } }] });
    const managers = getJson<Json>(['vm', '-n', NS, 'web', '--show-managed-fields'])?.metadata.managedFields.map((f: Json) => `${f.manager} ${f.operation}`);
    expect(managers).toContain('kubevmm-cli Apply'); // server-side apply, as the CLI's field manager
    const again = await kubevmm('create', 'vm', 'web', '-n', NS, '--container-disk', IMAGE, '--apply');
    expect(again).toMatchObject({ code: 0, stdout: 'virtualmachine.kubevmm.io/web configured\n' });
    const refused = await kubevmm('create', 'vm', 'orphan', '-n', NS, '--class', `nope-${RUN}`, '--container-disk', IMAGE, '--apply');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`admission webhook "virtualmachines.validate.kubevmm.io" denied the request`);
    expect(refused.stderr).toContain(`VirtualMachineClass "nope-${RUN}" does not exist`);
    expect(vm('orphan')).toBeUndefined();
  });

  it('start waits until Running and prints it', async () => {
    const r = await kubevmm('start', 'web', '-n', NS, '--timeout', '120');
    expect(r).toMatchObject({ code: 0, stdout: 'vm/web: Running\n' });
    expect(vm()?.status.printableStatus).toBe('Running');
  }, 150_000);

  it('stop: progress on stderr, one line per phase (not a terminal), reaches Stopped, exit 0', async () => {
    const r = await kubevmm('stop', 'web', '-n', NS, '--timeout', '120');
    expect(r).toMatchObject({ code: 0, stdout: 'vm/web: Stopped\n' });
    const phases = r.stderr.split('\n').filter(Boolean).map((l) => l.replace(/ \(\d+s\)$/, ''));
    expect(phases.length).toBeGreaterThanOrEqual(1); // Running when the stop was sent, then Stopping
    expect(new Set(phases).size).toBe(phases.length); // one line per change
    expect(phases.every((l) => /^vm\/web: (Running|Stopping)$/.test(l))).toBe(true);
    expect(vm()).toMatchObject({ spec: { runStrategy: 'Halted' }, status: { printableStatus: 'Stopped' } });
    expect(launcherUid()).toBeUndefined();
  }, 150_000);

  it('start --no-wait returns once the change is accepted; start then waits for Running', async () => {
    const noWait = await kubevmm('start', 'web', '-n', NS, '--no-wait');
    expect(noWait).toMatchObject({ code: 0, stderr: '', stdout: 'vm/web: start requested; now Stopped (not waiting for Running)\n' });
    expect(vm()?.spec.runStrategy).toBe('Always');
    const r = await kubevmm('start', 'web', '-n', NS, '--timeout', '120');
    expect(r).toMatchObject({ code: 0, stdout: 'vm/web: Running\n' });
  }, 150_000);

  it('pause and unpause through `kubectl vm` (the plugin run by kubectl): Paused, then Running', async () => {
    const env = { ...process.env, PATH: `${join(installed.plugin, '..')}:${process.env.PATH ?? ''}` };
    const paused = await run('kubectl', ['vm', 'pause', 'web', '-n', NS, '--timeout', '60'], env);
    expect(paused).toMatchObject({ code: 0, stdout: 'vm/web: Paused\n' });
    expect(launcher.calls.some((c) => c.method === 'POST' && c.path === '/pause' && c.authorized)).toBe(true);
    expect(vm()?.status.conditions.find((c: Json) => c.type === 'Paused')).toMatchObject({ status: 'True', reason: 'PausedByUser' });
    const resumed = await run('kubectl', ['vm', 'unpause', 'web', '-n', NS, '--timeout', '60'], env);
    expect(resumed).toMatchObject({ code: 0, stdout: 'vm/web: Running\n' });
  }, 150_000);

  it('restart: a new launcher pod, recorded, Running again', async () => {
    const before = launcherUid();
    const r = await kubevmm('restart', 'web', '-n', NS, '--timeout', '120');
    expect(r).toMatchObject({ code: 0, stdout: 'vm/web: Running\n' });
    expect(launcherUid()).not.toBe(before);
    expect(vm()?.status.lastRestartRequestedAt).toBe(vm()?.spec.restartRequestedAt);
  }, 150_000);

  it('--timeout 1 on a state that cannot come (its claim does not exist): exit 3 with what it was last seen doing', async () => {
    expect((await kubevmm('create', 'vm', 'nodisk', '-n', NS, '--claim', 'absent', '--apply')).code).toBe(0);
    await waitFor('nodisk reconciled', () => vm('nodisk')?.status?.printableStatus === 'ErrorPvcNotFound', 60_000);
    const r = await kubevmm('start', 'nodisk', '-n', NS, '--timeout', '1');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^kubevmm: timed out after 1s waiting for vm\/nodisk to be Running; last seen: vm\/nodisk: ErrorPvcNotFound$/m);
  }, 90_000);

  it('in a terminal (tmux) the progress line is one line rewritten in place, its seconds counting, and erased at the end', async () => {
    if (spawnSync('tmux', ['-V']).status !== 0) throw new Error('tmux is not installed; install it with: apt-get install -y tmux');
    const socket = `kubevmm-cli-${RUN}`;
    const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8', env: process.env });
    const screen = () => tmux('capture-pane', '-t', 'verbs', '-p').stdout;
    try {
      tmux('new-session', '-d', '-s', 'verbs', '-x', '120', '-y', '20', `${installed.bin} start nodisk -n ${NS} --timeout 4; echo EXIT=$?; sleep 60`);
      const waiting = await waitFor('the progress line at 2s', () => /vm\/nodisk: ErrorPvcNotFound \(2s\)/.test(screen()) && screen(), 20_000);
      expect(waiting.split('\n').filter((l) => l.includes('vm/nodisk'))).toEqual(['vm/nodisk: ErrorPvcNotFound (2s)']);
      const ended = await waitFor('the verb to end', () => screen().includes('EXIT=') && screen(), 20_000);
      const lines = ended.split('\n').filter(Boolean);
      expect(lines).toEqual(['kubevmm: timed out after 4s waiting for vm/nodisk to be Running; last seen: vm/nodisk: ErrorPvcNotFound', 'EXIT=3']);
    } finally {
      tmux('kill-server');
    }
  }, 60_000);

  it('addvolume waits until the disk is Attached; removevolume until it is gone', async () => {
    boundClaim('data');
    const added = await kubevmm('addvolume', 'web', '--claim', 'data', '-n', NS, '--timeout', '150');
    expect(added).toMatchObject({ code: 0, stdout: 'vm/web: disk data Attached\n' });
    expect(added.stderr).toMatch(/^vm\/web: disk data (Pending|Attaching)/m);
    expect(vm()?.spec.disks).toContainEqual({ name: 'data', hotpluggable: true, persistentVolumeClaim: { claimName: 'data' } });
    expect(launcher.calls.some((c) => c.method === 'POST' && c.path === '/disks' && c.body?.name === 'data')).toBe(true);
    const twice = await kubevmm('addvolume', 'web', '--claim', 'data', '-n', NS);
    expect(twice).toMatchObject({ code: 1, stderr: 'kubevmm: VM web already has a disk named data: give another with --name\n' });

    const removed = await kubevmm('removevolume', 'web', 'data', '-n', NS, '--timeout', '120');
    expect(removed).toMatchObject({ code: 0, stdout: 'vm/web: disk data removed\n' });
    expect(vm()?.spec.disks.map((d: Json) => d.name)).toEqual(['root']);
    expect(launcher.calls.some((c) => c.method === 'DELETE' && c.path === '/disks/data')).toBe(true);
    const root = await kubevmm('removevolume', 'web', 'root', '-n', NS);
    expect(root.code).toBe(1);
    expect(root.stderr).toContain('disk root of VM web is not hotpluggable');
  }, 300_000);

  it('a wait outlives an API server restart: its watch breaks, it reads and watches again, and sees the goal', async () => {
    boundClaim('slow');
    const attachCalls = () => launcher.calls.filter((c) => c.method === 'POST' && c.path === '/disks' && c.body?.name === 'slow').length;
    launcher.holdAttach = true; // the stand-in keeps the attach unanswered: the disk cannot be Attached yet
    try {
      const waiting = kubevmm('addvolume', 'web', '--claim', 'slow', '-n', NS, '--timeout', '170');
      let settled = false;
      void waiting.then(() => (settled = true));
      await waitFor('the attach of slow requested', () => attachCalls() > 0, 120_000);
      await cp.restartApiserver();
      expect(settled).toBe(false); // still waiting across the restart
      launcher.holdAttach = false;
      const r = await waiting;
      expect(r).toMatchObject({ code: 0, stdout: 'vm/web: disk slow Attached\n' });
      expect(r.stderr).toMatch(/^vm\/web: disk slow (Pending|Attaching)/m);
    } finally {
      launcher.holdAttach = false; // a held request would keep the stand-in (and jest) from closing
    }
    expect((await kubevmm('removevolume', 'web', 'slow', '-n', NS, '--timeout', '120')).code).toBe(0);
  }, 300_000);
});

describe('errors a user meets name the fix', () => {
  it('a user who may read VMs but not patch them: the verb, the resource and the role to ask for; exit 1', async () => {
    kubectl(['create', 'serviceaccount', 'viewer', '-n', NS]);
    kubectl(['create', 'role', 'vm-reader', '-n', NS, '--verb=get,list,watch', '--resource=virtualmachines.kubevmm.io']);
    kubectl(['create', 'rolebinding', 'viewer-reads-vms', '-n', NS, '--role=vm-reader', `--serviceaccount=${NS}:viewer`]);
    const config = await serviceAccountKubeconfig('viewer');
    const r = await kubevmm('stop', 'web', '--kubeconfig', config);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^kubevmm: you may not patch virtualmachines "web" in namespace ${NS} \\(kubevmm\\.io\\): ask for the kubevmm-vm-user role \\(docs/rbac\\.md\\)`));
    expect(vm()?.spec.runStrategy).not.toBe('Halted');
  });

  it('a VM that does not exist: names the namespace and how to list the VMs; exit 1', async () => {
    const r = await kubevmm('stop', 'absent', '-n', NS);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe(`kubevmm: virtualmachine "absent" not found in namespace ${NS}: see the VMs there with \`kubectl get vm -n ${NS}\`, or give -n/--namespace\n`);
  });

  it('no API server there: names the server and the kubeconfig; exit 1', async () => {
    const config = join(dir, 'nobody.kubeconfig');
    const port = await freePort();
    await writeFile(config, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}` } }], users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
    const r = await kubevmm('start', 'web', '--kubeconfig', config);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`kubevmm: cannot reach the API server https://127.0.0.1:${port} (kubeconfig ${config}, context x): connect ECONNREFUSED 127.0.0.1:${port}`);
  });
});
