// The stream verbs (console, vnc, ssh, port-forward) as processes, against a stand-in for the
// API server and the subresource server (helpers/subresource-standin.ts) that authenticates
// with client certificates and tokens, speaks `v1.stream.kubevmm.io`, refuses with Kubernetes
// Status answers, and bridges streams to a real guest: the fixture guest under QEMU (TCG)
// with a VNC display, its serial console through the launcher's serial hub. No cluster.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { failureStatus, type KubeStatus } from '../../api/contract/subresource.js';
import { RfbClient } from '../../cli/cluster/rfb-client.js';
import { startLauncher, type LauncherHandle } from '../../launcher/main.js';
import { freePort } from '../../launcher/runtime/ports.js';
import { buildGuest, requireQemu } from '../../harness/guest.js';
import { REPO_ROOT } from '../../scripts/bundle.js';
import { SerialLog } from '../launcher/helpers/serial.js';
import { GUEST_ROOT_DISK, smallSpec, testVm } from '../launcher/helpers/vm.js';
import { startStandin, writeKubeconfig, type Route, type Standin } from '../../harness/subresource-standin.js';
import { installKubevmm, type InstalledKubevmm } from './helpers/kubevmm.js';
import { requireTmux, tmux, tmuxSession } from './helpers/tmux.js';

const SESSION = `kubevmm-console-${process.pid}`;
const ECHO_PORT = 7;
const SSH_PORT = 22;

let work: string;
let vm: LauncherHandle | undefined;
let kubevmm: InstalledKubevmm;
let standin: Standin;
let echo: Server;
let fakeSshd: Server;
const sshdSaw: string[] = [];
/** Kubeconfigs: alice by client certificate, bob by a token file, viewer by a token. */
const kube = { alice: '', bob: '', viewer: '' };

/** The API server's own refusal when RBAC says no, before it proxies anything. */
function forbidden(user: string, subresource: string, name: string): KubeStatus {
  const message = `virtualmachines.subresources.kubevmm.io "${name}" is forbidden: User "${user}" cannot get resource "virtualmachines/${subresource}" in API group "subresources.kubevmm.io" in the namespace "lab"`;
  return failureStatus('Forbidden', message, { name });
}

function route(runtimeDir: string, serialSocket: string, ports: { echo: number; sshd: number }) {
  return (request: Parameters<Parameters<typeof startStandin>[0]['route']>[0], user: string): Route => {
    if (user === 'viewer') return { refuse: forbidden(user, request.subresource, request.name) };
    if (request.name === 'nogroup') return { refuse: { ...failureStatus('NotFound', 'the server could not find the requested resource'), details: {} } };
    if (request.name === 'stopped') return { refuse: failureStatus('Conflict', 'the VM is Stopped: it has no launcher pod', request) };
    if (request.name !== 'guest') return { refuse: failureStatus('NotFound', `virtualmachines "${request.name}" not found`, request) };
    if (request.subresource === 'console') return { bridge: serialSocket, headers: ['kubevmm-console-mode: interactive'] };
    if (request.subresource === 'vnc') return { bridge: join(runtimeDir, 'vnc.sock') };
    if (request.subresource === 'portforward' && request.port === ECHO_PORT) return { bridge: ports.echo };
    if (request.subresource === 'portforward' && request.port === SSH_PORT) return { bridge: ports.sshd };
    return { refuse: failureStatus('Conflict', `nothing listens on port ${request.subresource === 'portforward' ? request.port : '?'} of the guest`, request) };
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  requireTmux();
  kubevmm = await installKubevmm();
  if (spawnSync('ssh', ['-V']).status !== 0) throw new Error('ssh is not installed; install it with: apt-get install -y openssh-client (or bash scripts/install-deps.sh)');
  await requireQemu();
  const image = await buildGuest();
  work = await mkdtemp(join(tmpdir(), 'kubevmm-streams-'));
  const runtimeDir = await mkdtemp(join(work, 'vm-'));
  const spec = smallSpec({ cpu: { cores: 1 }, devices: { graphics: 'vnc', balloon: false, rng: false, guestAgent: false }, disks: [GUEST_ROOT_DISK] });
  vm = await startLauncher({ vm: testVm('guest', spec), accel: 'tcg', runtimeDir, disks: { root: image } });
  echo = createServer((socket) => socket.pipe(socket));
  fakeSshd = createServer((socket) => {
    socket.write('SSH-2.0-kubevmm-standin\r\n');
    socket.once('data', (line: Buffer) => {
      sshdSaw.push(line.toString('latin1').split('\r\n')[0] ?? '');
      socket.end();
    });
  });
  const ports = { echo: await listen(echo), sshd: await listen(fakeSshd) };
  standin = await startStandin({ tokens: { 'bob-token': 'bob', 'viewer-token': 'viewer' }, route: route(runtimeDir, vm.serialSocket, ports) });
  kube.alice = await writeKubeconfig(join(work, 'alice'), standin, { cert: await standin.clientCert('alice'), namespace: 'lab' });
  kube.bob = await writeKubeconfig(join(work, 'bob'), standin, { token: 'bob-token\n', tokenFile: true });
  kube.viewer = await writeKubeconfig(join(work, 'viewer'), standin, { token: 'viewer-token' });
  await vm.started;
  await new SerialLog(vm.serialLog).waitFor(/Press Enter for a shell\./, 120_000);
}, 600_000);

afterAll(async () => {
  terminal.kill();
  await kubevmm?.remove();
  await standin?.close();
  echo?.close();
  fakeSshd?.close();
  if (vm) {
    await vm.stop({ reason: 'TestCleanup', message: 'streams test done', force: true });
    await vm.done;
  }
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

/** The installed `kubevmm` and its arguments (bin/kubevmm.js is a node script). */
function cli(...args: string[]): string[] {
  return [kubevmm.bin, ...args];
}

/** Runs the CLI to its end (never spawnSync: the stand-in answers from this process's event loop). */
function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cli(...args), { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Starts a long-running verb; resolves once its stdout has a line matching `ready`. */
async function startCli(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, cli(...args), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!ready.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the CLI did not get ready (${String(ready)}); it printed:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, match: out.match(ready)!, output: () => out, exit };
}

const terminal = tmuxSession(SESSION);
const { screen, until } = terminal;

/** Standard deviation of the screen's luminance: 0 for a blank (one-colour) screen. */
function luminanceSpread(png: PNG): number {
  let sum = 0;
  let squares = 0;
  const n = png.width * png.height;
  for (let i = 0; i < png.data.length; i += 4) {
    const y = 0.299 * png.data[i]! + 0.587 * png.data[i + 1]! + 0.114 * png.data[i + 2]!;
    sum += y;
    squares += y * y;
  }
  return Math.sqrt(squares / n - (sum / n) ** 2);
}

describe('kubevmm console', () => {
  it("shows the guest's console in a real terminal, runs a typed command, and Ctrl-] detaches with the terminal restored", async () => {
    const command = `${process.execPath} ${cli('console', 'guest', '--kubeconfig', kube.alice).join(' ')}; echo KUBEVMM-EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' '; echo STTY-DONE; sleep 60`;
    tmux('new-session', '-d', '-s', SESSION, '-x', '150', '-y', '50', '-c', REPO_ROOT, command);
    await until('the console to connect', () => screen().includes('connected to the console of guest (Ctrl-] detaches)'), 60_000);
    // The serial hub shows a new session the recent output first: the end of the boot.
    expect(screen()).toContain('Press Enter for a shell.');
    tmux('send-keys', '-t', SESSION, 'Enter');
    await until('a shell prompt', () => screen().includes('kubevmm-guest#'), 30_000);
    tmux('send-keys', '-t', SESSION, 'echo typed-$((6*7))', 'Enter');
    await until('the guest to run the command', () => screen().includes('typed-42'), 30_000);
    tmux('send-keys', '-t', SESSION, 'C-]');
    await until('the CLI to exit', () => screen().includes('STTY-DONE'), 30_000);
    expect(screen()).toContain('kubevmm: detached');
    expect(screen()).toContain('KUBEVMM-EXIT=0');
    // Canonical mode and echo are back: the shell's terminal is as it was before.
    expect(screen()).toMatch(/^icanon echo STTY-DONE/m);
  }, 180_000);
});

describe('kubevmm vnc', () => {
  it("--screenshot writes a PNG of the guest's screen that is not blank, and a new one shows what changed", async () => {
    const file = join(work, 'screen.png');
    const first = await runCli(['vnc', 'guest', '-n', 'lab', '--kubeconfig', kube.bob, '--screenshot', file]);
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe(`${file}: 720x400\n`);
    expect(first.status).toBe(0);
    const before = PNG.sync.read(await readFile(file));
    expect([before.width, before.height]).toEqual([720, 400]);
    // SeaBIOS and syslinux left text on the VGA text screen: white on black.
    expect(luminanceSpread(before)).toBeGreaterThan(5);
    // Text written to the guest's VGA console appears in the next screenshot.
    const serial = createConnection(vm!.serialSocket);
    serial.write('\rclear > /dev/tty1; for i in 1 2 3 4 5 6 7 8 9 10; do echo KUBEVMM-SCREEN-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxx > /dev/tty1; done\r');
    await new Promise((r) => setTimeout(r, 3000));
    serial.destroy();
    expect((await runCli(['vnc', 'guest', '-n', 'lab', '--kubeconfig', kube.bob, '--screenshot', file])).status).toBe(0);
    const after = PNG.sync.read(await readFile(file));
    expect(luminanceSpread(after)).toBeGreaterThan(5);
    expect(Buffer.compare(after.data, before.data)).not.toBe(0);
    // Written through a temporary file and a rename: nothing else is left beside it.
    expect((await readdir(work)).filter((f) => f.includes('screen'))).toEqual(['screen.png']);
    const unwritable = await runCli(['vnc', 'guest', '-n', 'lab', '--kubeconfig', kube.bob, '--screenshot', join(work, 'no-such-dir', 'x.png')]);
    expect(unwritable.stderr).toMatch(/^kubevmm: cannot write the screenshot .*no-such-dir\/x\.png: ENOENT/);
    expect(unwritable.status).toBe(1);
  }, 180_000);

  it('serves the display on a local port that a VNC client can open, until Ctrl-C (exit 0)', async () => {
    const run = await startCli(['vnc', 'guest', '-n', 'lab', '--kubeconfig', kube.alice], /VNC on 127\.0\.0\.1:(\d+): point any VNC viewer at it \(Ctrl-C stops\)/);
    const viewer = createConnection(Number(run.match[1]), '127.0.0.1');
    const rfb = new RfbClient(viewer);
    await rfb.handshake();
    expect([rfb.framebuffer.width, rfb.framebuffer.height]).toEqual([720, 400]);
    const fb = await rfb.screenshot();
    expect(fb.rgba.some((b, i) => i % 4 !== 3 && b > 0)).toBe(true);
    viewer.destroy();
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
  }, 120_000);
});

describe('kubevmm port-forward', () => {
  it('forwards each local connection to the guest port through its own stream, until Ctrl-C (exit 0)', async () => {
    const local = await freePort();
    const run = await startCli(['port-forward', 'guest', `${local}:${ECHO_PORT}`, '-n', 'lab', '--kubeconfig', kube.alice], new RegExp(`Forwarding 127\\.0\\.0\\.1:${local} -> guest:${ECHO_PORT}`));
    const roundTrip = (payload: Buffer) =>
      new Promise<Buffer>((resolve, reject) => {
        const socket = createConnection(local, '127.0.0.1');
        const chunks: Buffer[] = [];
        let received = 0;
        socket.on('data', (c: Buffer) => {
          chunks.push(c);
          received += c.length;
          if (received >= payload.length) {
            socket.end();
            resolve(Buffer.concat(chunks));
          }
        });
        socket.once('error', reject);
        socket.write(payload);
      });
    const payloads = [randomBytes(512 * 1024), randomBytes(64 * 1024)];
    const echoed = await Promise.all(payloads.map(roundTrip));
    expect(echoed.map((b, i) => b.equals(payloads[i]!))).toEqual([true, true]);
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
  }, 120_000);
});

describe('kubevmm ssh', () => {
  it("runs the system's ssh through the guest's port 22 and exits with ssh's exit code", async () => {
    const result = await runCli(['ssh', 'root@guest', '-n', 'lab', '--kubeconfig', kube.alice, '--', '-v', '-o', 'BatchMode=yes', '-o', 'UserKnownHostsFile=/dev/null', 'true']);
    // The stand-in's "sshd" greets, reads the client's greeting and hangs up: ssh fails with 255.
    expect(sshdSaw.at(-1)).toMatch(/^SSH-2\.0-OpenSSH/);
    expect(result.stderr).toContain('remote software version kubevmm-standin');
    expect(result.status).toBe(255);
  }, 120_000);

  it('says how to install ssh when it is missing', async () => {
    const result = await runCli(['ssh', 'guest', '-n', 'lab', '--kubeconfig', kube.alice], { ...process.env, PATH: '/nonexistent' });
    expect(result.stderr).toBe('kubevmm: ssh is not installed: install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)\n');
    expect(result.status).toBe(1);
  });
});

describe('refusals', () => {
  it.each([
    ['a user without the permission', ['console', 'guest', '-n', 'lab'], 'viewer', /^kubevmm: you may not get virtualmachines\/console in subresources\.kubevmm\.io \(namespace "lab"\): ask your cluster admin for a binding to the kubevmm-vm-user role/],
    ['a VM that does not exist', ['vnc', 'nosuchvm', '-n', 'lab', '--screenshot', '/nonexistent/x.png'], 'alice', /^kubevmm: virtual machine "nosuchvm" was not found in namespace "lab"/],
    ['a cluster without the subresource API', ['vnc', 'nogroup', '-n', 'lab'], 'alice', /^kubevmm: kubevmm's subresource API is not installed or not available in this cluster: check `kubectl get apiservice v1alpha1\.subresources\.kubevmm\.io`/],
    ['a VM that is not running', ['console', 'stopped', '-n', 'lab'], 'alice', /^kubevmm: virtual machine "stopped" is not running: start it with `kubevmm start stopped -n lab`/],
  ] as const)('%s: exit 1 and a message that names the fix', async (_what, args, user, expected) => {
    const result = await runCli([...args, '--kubeconfig', kube[user]]);
    expect(result.stderr).toMatch(expected);
    expect(result.stdout).toBe('');
    expect(result.status).toBe(1);
  });

  it('port-forward reports a refusal for the connection it was meant for, and keeps listening', async () => {
    const local = await freePort();
    const run = await startCli(['port-forward', 'guest', `${local}:${ECHO_PORT}`, '-n', 'lab', '--kubeconfig', kube.viewer], /Forwarding/);
    const closed = await new Promise<boolean>((resolve) => {
      const socket = createConnection(local, '127.0.0.1');
      socket.on('data', () => resolve(false));
      socket.once('close', () => resolve(true));
    });
    expect(closed).toBe(true);
    const deadline = Date.now() + 10_000;
    while (!run.output().includes('you may not get virtualmachines/portforward') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(run.output()).toMatch(/kubevmm: connection from 127\.0\.0\.1:\d+: you may not get virtualmachines\/portforward in subresources\.kubevmm\.io/);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  }, 60_000);
});
