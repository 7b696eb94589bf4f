// The day-2 CLI on the real node, through the subresource API (issue 13, ADR 0011): a user
// drives a VM with `kubevmm` verbs, opens its serial console in a real terminal (tmux), saves
// a frame of its screen, reaches a guest port, hotplugs a disk, and is refused what RBAC does
// not grant, with a message that names the permission. Nobody needs `pods/exec`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PNG } from 'pngjs';
import { E2E_UP_TIMEOUT_MS, getJson, guestDiskRoot, kubectl, testNamespace, useE2eCluster, waitFor } from './helpers/cluster.js';
import { bindClusterRole, binDir, dropKubevmm, kubevmm, kubevmmBackground, serviceAccountUser, useKubevmm } from './helpers/cli.js';
import { claimManifest } from './helpers/pvc.js';
import { apply, getVm, runInGuest, vmManifest, waitForConsole, waitForVm } from './helpers/vm.js';

let ns: { name: string; drop: () => void };
let dir: string;
const SESSION = `kubevmm-e2e-console-${process.pid}`;

beforeAll(async () => {
  useE2eCluster();
  ns = testNamespace('e2e-cli');
  dir = mkdtempSync(join(tmpdir(), 'kubevmm-e2e-cli-'));
  if (spawnSync('tmux', ['-V']).status !== 0) throw new Error('tmux is not installed; install it with: apt-get install -y tmux');
  await useKubevmm();
}, E2E_UP_TIMEOUT_MS);

afterAll(async () => {
  spawnSync('tmux', ['kill-session', '-t', SESSION]);
  await dropKubevmm();
  ns?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-t', SESSION, '-p', '-S', '-300');
async function onScreen(what: string, check: (text: string) => boolean, ms = 60_000): Promise<void> {
  await waitFor(`${what} on the terminal`, () => check(screen()) || undefined, ms).catch((err: Error) => {
    throw new Error(`${err.message}\nscreen:\n${screen()}`);
  });
}

const n = () => ['-n', ns.name];

describe('kubevmm verbs against the real node', () => {
  it('start brings a Halted VM up and prints its state as it goes', () => {
    apply(vmManifest(ns.name, 'web', { runStrategy: 'Halted', devices: { graphics: 'vnc' }, disks: [guestDiskRoot()] }));
    const r = kubevmm(['start', 'web', ...n(), '--timeout', '300']);
    expect(r).toMatchObject({ status: 0 });
    expect(r.stdout).toMatch(/web: Running/);
    expect(getVm(ns.name, 'web')?.status?.printableStatus).toBe('Running');
  });

  it("console shows the guest's boot and a typed command's output in a real terminal; Ctrl-] detaches and restores it", async () => {
    // A shell in tmux runs the installed command, as a person would, then reports how it left the terminal.
    tmux('new-session', '-d', '-s', SESSION, '-x', '160', '-y', '50', 'bash --norc --noprofile');
    tmux('send-keys', '-t', SESSION, `export KUBECONFIG=${process.env.KUBECONFIG}; stty -a | grep -o -- '-\\?icanon' | sed 's/^/BEFORE=/'`, 'Enter');
    await onScreen('the terminal settings before', (s) => /BEFORE=-?icanon/.test(s), 10_000);
    tmux('send-keys', '-t', SESSION, `${join(binDir(), 'kubevmm')} console web -n ${ns.name}; echo KUBEVMM-EXIT=$?; stty -a | grep -o -- '-\\?icanon' | sed 's/^/AFTER=/'`, 'Enter');
    // The recent console history comes first: the guest's boot, up to its shell offer.
    await onScreen("the guest's boot", (s) => s.includes('Press Enter for a shell.'), 120_000);
    tmux('send-keys', '-t', SESSION, 'Enter');
    await onScreen('a shell prompt', (s) => s.includes('kubevmm-guest#'), 30_000);
    tmux('send-keys', '-t', SESSION, 'echo typed-$((6*7))', 'Enter');
    await onScreen("the command's output", (s) => s.includes('typed-42'), 30_000);
    tmux('send-keys', '-t', SESSION, 'C-]');
    await onScreen('the exit code', (s) => /KUBEVMM-EXIT=\d+/.test(s), 20_000);
    await onScreen('the terminal settings after', (s) => /AFTER=-?icanon/.test(s), 10_000);
    const text = screen();
    expect(text).toContain('KUBEVMM-EXIT=0');
    // The terminal is back in the mode it was in (canonical input), not left raw.
    expect(text.match(/AFTER=(-?icanon)/)?.[1]).toBe(text.match(/BEFORE=(-?icanon)/)?.[1]);
    expect(getVm(ns.name, 'web')?.status?.printableStatus).toBe('Running');
  });

  it('gives a second console on the same VM a read-only mirror while the first one types', async () => {
    tmux('send-keys', '-t', SESSION, 'clear', 'Enter');
    tmux('clear-history', '-t', SESSION);
    tmux('send-keys', '-t', SESSION, `${join(binDir(), 'kubevmm')} console web -n ${ns.name}; echo KUBEVMM-EXIT-TYPIST=$?`, 'Enter');
    // Attached when the console's recent history (the earlier session's output) is back on screen.
    await onScreen('the first console attached', (s) => s.includes('typed-42'), 30_000);
    const second = kubevmmBackground(['console', 'web', ...n()]);
    try {
      await waitFor('the mirror notice', () => second.output().includes('read-only: another session is typing') || undefined, 30_000);
      second.stdin!.write('echo from-the-mirror-$((5*5))\r');
      tmux('send-keys', '-t', SESSION, 'echo from-the-typist-$((4*4))', 'Enter');
      await waitFor('the typist’s output in the mirror', () => second.output().includes('from-the-typist-16') || undefined, 30_000);
      expect(second.output()).not.toContain('from-the-mirror-25');
      expect(screen()).not.toContain('from-the-mirror-25');
    } finally {
      second.kill('SIGTERM');
      tmux('send-keys', '-t', SESSION, 'C-]');
    }
    await onScreen('the typist detached', (s) => s.includes('KUBEVMM-EXIT-TYPIST=0'), 20_000);
  });

  it('vnc --screenshot writes a PNG of the guest screen that is not blank', () => {
    const file = join(dir, 'web.png');
    const r = kubevmm(['vnc', 'web', ...n(), '--screenshot', file], { timeoutMs: 120_000 });
    expect(r).toMatchObject({ status: 0 });
    const png = PNG.sync.read(readFileSync(file));
    expect(png.width).toBeGreaterThanOrEqual(640);
    expect(png.height).toBeGreaterThanOrEqual(400);
    const colours = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4) colours.add(png.data.readUInt32BE(i));
    expect(colours.size).toBeGreaterThan(1); // text on the VGA console, not one flat colour
    expect(r.stdout).toContain(`${png.width}x${png.height}`);
  });

  it('port-forward reaches a port the guest listens on (not one listed in the spec)', async () => {
    await runInGuest(ns.name, 'web', 'mkdir -p /www && echo kubevmm-port-forward-ok > /www/index.html && httpd -p 8080 -h /www');
    const local = 18080 + (process.pid % 1000);
    const forward = kubevmmBackground(['port-forward', 'web', `${local}:8080`, ...n()]);
    try {
      await waitFor('the forward to listen', () => forward.output().includes(`127.0.0.1:${local}`) || undefined, 30_000);
      const body = await new Promise<string>((resolve, reject) => {
        request({ host: '127.0.0.1', port: local, path: '/' }, (res) => {
          let text = '';
          res.on('data', (b: Buffer) => (text += b.toString()));
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      expect(body.trim()).toBe('kubevmm-port-forward-ok');
    } finally {
      forward.kill('SIGINT');
    }
  });

  it('pause, unpause and restart reach their state and print it; `kubectl vm` runs the same verbs', () => {
    const paused = kubevmm(['pause', 'web', ...n()]);
    expect(paused).toMatchObject({ status: 0 });
    expect(paused.stdout).toMatch(/web: Paused/);
    // kubectl finds the plugin on PATH (npm install --global put kubectl-vm beside kubevmm).
    const env = { ...process.env, PATH: `${binDir()}:${process.env.PATH}` };
    const unpaused = spawnSync('kubectl', ['vm', 'unpause', 'web', ...n()], { encoding: 'utf8', env, timeout: 300_000 });
    expect(unpaused.status).toBe(0);
    expect(unpaused.stdout).toMatch(/web: Running/);
    const before = getVm(ns.name, 'web')?.status?.lastRestartRequestedAt;
    const restarted = kubevmm(['restart', 'web', ...n()]);
    expect(restarted).toMatchObject({ status: 0 });
    expect(restarted.stdout).toMatch(/web: Running/);
    expect(getVm(ns.name, 'web')?.status?.lastRestartRequestedAt).not.toBe(before);
  });

  it('addvolume and removevolume hotplug a claim the guest sees come and go', async () => {
    apply(claimManifest(ns.name, 'extra'));
    const added = kubevmm(['addvolume', 'web', '--claim', 'extra', ...n()]);
    expect(added).toMatchObject({ status: 0 });
    expect(added.stdout).toMatch(/disk extra Attached/);
    const seen = await waitForConsole(ns.name, 'web', /KUBEVMM-GUEST disk-added dev=(vd[a-z]) serial=extra/, 120_000);
    const removed = kubevmm(['removevolume', 'web', 'extra', ...n()]);
    expect(removed).toMatchObject({ status: 0 });
    await waitForConsole(ns.name, 'web', new RegExp(`KUBEVMM-GUEST disk-removed dev=${seen[1]}`), 120_000);
    expect((getVm(ns.name, 'web')?.spec.disks ?? []).map((d: { name: string }) => d.name)).not.toContain('extra');
  });

  it('stop waits for Stopped and prints it', () => {
    const r = kubevmm(['stop', 'web', ...n(), '--grace', '20']);
    expect(r).toMatchObject({ status: 0 });
    expect(r.stdout).toMatch(/web: Stopped/);
    expect(getJson(['-n', ns.name, 'pod', 'web-launcher'])).toBeUndefined();
  });
});

describe('access follows Kubernetes RBAC', () => {
  beforeAll(async () => {
    apply(vmManifest(ns.name, 'rbac', { devices: { graphics: 'vnc' }, disks: [guestDiskRoot()] }));
    await waitForVm(ns.name, 'rbac', 'Running');
    await waitForConsole(ns.name, 'rbac', /Press Enter for a shell\./);
  });

  it('refuses a user with only `view` the console, naming the permission', () => {
    const viewer = serviceAccountUser(ns.name, 'viewer', dir);
    bindClusterRole(ns.name, 'viewer', 'view');
    const r = kubevmm(['console', 'rbac', ...n()], { kubeconfig: viewer.kubeconfig, timeoutMs: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('virtualmachines/console');
    expect(r.stderr).toContain(viewer.user);
    // and the same for the screen
    expect(kubevmm(['vnc', 'rbac', '--screenshot', join(dir, 'no.png'), ...n()], { kubeconfig: viewer.kubeconfig, timeoutMs: 60_000 }).stderr).toContain('virtualmachines/vnc');
  });

  it('lets a user bound to the VM-user role open the console, without any right on pods/exec', async () => {
    const user = serviceAccountUser(ns.name, 'vmuser', dir);
    bindClusterRole(ns.name, 'vmuser', 'kubevmm-vm-user');
    const canExec = kubectl(['auth', 'can-i', 'create', 'pods/exec', '-n', ns.name, `--as=${user.user}`], { allowFail: true });
    expect(canExec.stdout.trim()).toBe('no');
    const console = kubevmmBackground(['console', 'rbac', ...n()], { kubeconfig: user.kubeconfig });
    try {
      await waitFor('the console history', () => console.output().includes('Press Enter for a shell.') || undefined, 60_000);
      console.stdin!.write('\r');
      await waitFor('a prompt', () => console.output().includes('kubevmm-guest#') || undefined, 30_000);
      console.stdin!.write('echo via-the-vm-user-role-$((2*21))\r');
      await waitFor("the command's output", () => console.output().includes('via-the-vm-user-role-42') || undefined, 30_000);
    } finally {
      console.kill('SIGTERM');
    }
  });
});

describe('the subresource server believes only the API server', () => {
  /** The release's namespace and the server's pods (the chart's labels). */
  const RELEASE_NS = 'kubevmm-system';
  const SERVER_SELECTOR = 'app.kubernetes.io/component=subresources';
  const path = () => `/apis/subresources.kubevmm.io/v1alpha1/namespaces/${ns.name}/virtualmachines/rbac/metrics`;

  function serverPod(): { ip: string; serviceAccount: string } {
    const pod = getJson<{ items: { status: { podIP: string }; spec: { serviceAccountName: string } }[] }>(['-n', RELEASE_NS, 'pods', '-l', SERVER_SELECTOR])?.items[0];
    if (!pod) throw new Error(`no subresource server pod (-l ${SERVER_SELECTOR}) in ${RELEASE_NS}`);
    return { ip: pod.status.podIP, serviceAccount: `system:serviceaccount:${RELEASE_NS}:${pod.spec.serviceAccountName}` };
  }

  /** GET straight to a server pod (not through the API server), with or without the front-proxy certificate. */
  async function direct(headers: Record<string, string>, frontProxy: boolean): Promise<{ status: number; message: string }> {
    const { ip } = serverPod();
    const pki = dirname(process.env.KUBECONFIG!);
    const tls = frontProxy ? { cert: readFileSync(join(pki, 'front-proxy-client.crt')), key: readFileSync(join(pki, 'front-proxy-client.key')) } : {};
    return new Promise((resolve, reject) => {
      httpsRequest({ host: ip, port: 8443, path: path(), headers, rejectUnauthorized: false, ...tls }, (res) => {
        let text = '';
        res.on('data', (b: Buffer) => (text += b.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, message: (JSON.parse(text) as { message?: string }).message ?? text }));
      })
        .on('error', reject)
        .end();
    });
  }

  it('refuses forged X-Remote-User headers that come without the front-proxy certificate', async () => {
    const r = await direct({ 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' }, false);
    expect(r.status).toBe(401);
  });

  it('with the certificate, still asks Kubernetes for the named user: its own ServiceAccount and a viewer get nothing', async () => {
    const own = await direct({ 'X-Remote-User': serverPod().serviceAccount, 'X-Remote-Group': 'system:serviceaccounts' }, true);
    expect(own.status).toBe(403);
    const viewer = `system:serviceaccount:${ns.name}:viewer`;
    const metricsAsViewer = await direct({ 'X-Remote-User': viewer, 'X-Remote-Group': 'system:serviceaccounts' }, true);
    // metrics is what view grants: the viewer gets them; the server did not use its own rights to decide
    expect(metricsAsViewer.status).toBe(200);
    const stranger = await direct({ 'X-Remote-User': 'mallory', 'X-Remote-Group': 'system:authenticated' }, true);
    expect(stranger.status).toBe(403);
    expect(stranger.message).toContain('mallory');
  });
});
