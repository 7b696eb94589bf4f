// `kubevmm play --watch` as a user runs it: a real process, real QEMU under TCG, the fixture
// guest; edits of the manifest hotplug and unplug a disk, pause and resume the guest, and are
// refused or reported when they cannot apply live.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuest, requireQemu } from '../../harness/guest.js';
import { installKubevmm, type InstalledKubevmm } from './helpers/kubevmm.js';

let image = '';
let kubevmm: InstalledKubevmm;
const dir = mkdtempSync(join(tmpdir(), 'kubevmm-play-watch-'));
const file = join(dir, 'vm.yaml');
const dataImage = join(dir, 'data.img');

beforeAll(async () => {
  await requireQemu();
  image = await buildGuest();
  kubevmm = await installKubevmm();
}, 300_000);
afterAll(() => kubevmm?.remove());

interface Spec {
  data?: boolean;
  paused?: boolean;
  memory?: string;
  cores?: number;
}

function manifest(spec: Spec = {}): string {
  const data = spec.data ? '\n    - { name: data, hotpluggable: true, persistentVolumeClaim: { claimName: data } }' : '';
  return `apiVersion: kubevmm.io/v1alpha1
kind: VirtualMachine
metadata: { name: watched }
spec:
  paused: ${spec.paused ?? false}
  cpu: { cores: ${spec.cores ?? 1} }
  memory: { guest: ${spec.memory ?? '160Mi'} }
  terminationGracePeriodSeconds: 20
  devices: { graphics: none }
  interfaces: []
  disks:
    - { name: root, readOnly: true, containerDisk: { image: fixture } }
    - { name: ci, cloudInit: { userData: "#cloud-config\\n" } }${data}
`;
}

/** Saves in place, like `echo > file`. */
const saveInPlace = (spec: Spec) => writeFileSync(file, manifest(spec));

/** Saves like editors that write a new file and rename it over the old one. */
function saveByRename(spec: Spec): void {
  writeFileSync(join(dir, '.vm.yaml.tmp'), manifest(spec));
  renameSync(join(dir, '.vm.yaml.tmp'), file);
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  type: (text: string) => void;
  exit: Promise<number | null>;
}

function start(...args: string[]): Run {
  const child = spawn(kubevmm.bin, ['play', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, type: (text) => child.stdin?.write(text), exit };
}

let run: Run | undefined;

async function until(what: string, check: () => boolean, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- stderr:\n${run?.stderr()}\n--- stdout:\n${run?.stdout().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

afterAll(() => {
  if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
});

it('applies edits of the manifest to the running VM: hotplug, pause, resume, unplug; refuses bad edits; names restart fields; Ctrl-C shuts down', async () => {
  writeFileSync(dataImage, Buffer.alloc(8 * 1024 * 1024));
  saveInPlace({});
  run = start(file, '--watch', '--disk', `root=${image}`, '--disk', `data=${dataImage}`, '--accel', 'tcg');
  const r = run;
  const stderrLines = () => r.stderr().split('\n').map((l) => l.replace(/\r$/, ''));
  await until('the guest to be ready', () => r.stdout().includes('KUBEVMM-GUEST ready'), 150_000);
  expect(r.stderr()).toContain(`--disk data: ${file} has no disk data yet; it is attached when a hotpluggable disk data is added`);
  await until('the watch to start', () => r.stderr().includes(`watching ${file}`));

  // Add the hotpluggable disk: attached through the launcher, seen and written by the guest.
  saveByRename({ data: true });
  // root is vda and the cloud-init disk vdb, so the guest names the new disk vdc.
  await until('the attach', () => stderrLines().includes('kubevmm: attached data as vdc'));
  await until('the guest to see vdc', () => r.stdout().includes('KUBEVMM-GUEST disk-added dev=vdc serial=data size=16384'));
  await until('the guest to write the data disk', () => readFileSync(dataImage).subarray(0, 64).toString().startsWith('KUBEVMM-DATA data written-by-guest'), 30_000);

  // A shell on the console, to see whether the guest runs.
  await until('the shell offer', () => r.stdout().includes('Press Enter for a shell.'));
  r.type('\n');
  await until('a shell prompt', () => r.stdout().includes('kubevmm-guest#'));

  // paused: true stops the guest: typed input is not even echoed until it resumes.
  saveInPlace({ data: true, paused: true });
  await until('the pause', () => stderrLines().includes('kubevmm: paused'));
  const before = r.stdout().length;
  r.type('echo tick-$((6*7))\n');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  expect(r.stdout().slice(before)).toBe('');
  saveByRename({ data: true, paused: false });
  await until('the resume', () => stderrLines().includes('kubevmm: resumed'));
  await until('the guest to run the typed command', () => r.stdout().slice(before).includes('tick-42'));

  // Remove the disk: detached, and the guest sees it gone.
  saveInPlace({});
  await until('the detach', () => stderrLines().includes('kubevmm: detached data'), 120_000);
  await until('the guest to see vdc gone', () => r.stdout().includes('KUBEVMM-GUEST disk-removed dev=vdc'));

  // An invalid edit: the errors with field paths; nothing changes, the guest keeps running.
  saveInPlace({ memory: '1Mi', paused: true });
  await until('the validation error', () => r.stderr().includes('VirtualMachine watched: spec.memory.guest: must be at least 16Mi'));
  expect(r.stderr()).toContain(`${file} changed but is not valid; nothing applied, the VM keeps running as it is:`);
  const afterInvalid = r.stdout().length;
  r.type('echo alive-$((2*3))\n');
  await until('the guest to answer', () => r.stdout().slice(afterInvalid).includes('alive-6'));

  // A cpu change needs a restart: named, and the VM is left alone.
  saveByRename({ cores: 2 });
  await until('the restart notice', () => r.stderr().includes('needs a restart (RestartRequired): spec.cpu.cores changed'));
  expect(r.child.exitCode).toBeNull();
  // The invalid edit asked for paused: true too; it was not applied.
  expect(stderrLines().filter((l) => l === 'kubevmm: paused')).toHaveLength(1);

  // Ctrl-C: a clean shutdown.
  r.child.kill('SIGINT');
  expect(await r.exit).toBe(0);
  expect(r.stdout()).toContain('KUBEVMM-GUEST acpi-poweroff');
  expect(r.stderr()).toContain('GuestShutdown: guest powered off');
}, 600_000);
