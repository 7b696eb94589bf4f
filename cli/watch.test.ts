// The watch loop against a real directory and a fake launcher handle: how saves are noticed
// (in place, by rename), what is printed, and that a bad edit or a failed step leaves the VM be.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AttachRequest } from '../launcher/main.js';
import { HotplugError } from '../launcher/runtime/errors.js';
import { parseManifests } from './load.js';
import { selectVm } from './play.js';
import { watchManifest, type LiveVm, type ManifestWatch } from './watch.js';
import { appliedAtStart } from './watch-plan.js';

function manifest(opts: { data?: boolean; paused?: boolean; memory?: string; cores?: number } = {}): string {
  const data = opts.data ? '\n    - { name: data, hotpluggable: true, persistentVolumeClaim: { claimName: d } }' : '';
  return `apiVersion: kubevmm.io/v1alpha1
kind: VirtualMachine
metadata: { name: w }
spec:
  paused: ${opts.paused ?? false}
  cpu: { cores: ${opts.cores ?? 1} }
  memory: { guest: ${opts.memory ?? '128Mi'} }
  disks:
    - { name: root, containerDisk: { image: fixture } }${data}
`;
}

class FakeVm implements LiveVm {
  calls: string[] = [];
  failAttach = false;
  async attach(request: AttachRequest) {
    this.calls.push(`attach ${request.name} ${request.path} ${request.bus}`);
    if (this.failAttach) throw new HotplugError({ disk: request.name, reason: 'AttachFailed', message: `attaching disk ${request.name} failed: no such file` });
    return { name: request.name, phase: 'Attached' as const, target: 'vdb' };
  }
  async detach(name: string) {
    this.calls.push(`detach ${name}`);
  }
  async pause() {
    this.calls.push('pause');
  }
  async resume() {
    this.calls.push('resume');
  }
}

/** Saves are noticed in well under a second; 30 s leaves room for a loaded machine. */
const test = (name: string, fn: () => Promise<void>) => it(name, fn, 30_000);

let dir = '';
let file = '';
let watch: ManifestWatch | undefined;
let lines: string[] = [];
let vm: FakeVm;

async function until(what: string, check: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; printed:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function start(text: string, paths: Record<string, string> = { root: '/r', data: '/img/data.img' }): void {
  writeFileSync(file, text);
  const load = (t: string) => selectVm(parseManifests(t, file), { accel: 'tcg' });
  watch = watchManifest({ file, load, vm, applied: appliedAtStart(load(text), paths), paths, log: (l) => lines.push(l), debounceMs: 50 });
}

/** Saves like editors that write a new file and rename it over the old one. */
function saveByRename(text: string): void {
  writeFileSync(join(dir, '.vm.yaml.swp'), text);
  renameSync(join(dir, '.vm.yaml.swp'), file);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubevmm-watch-'));
  file = join(dir, 'vm.yaml');
  lines = [];
  vm = new FakeVm();
});

afterEach(async () => {
  watch?.close();
  await watch?.settled();
  rmSync(dir, { recursive: true, force: true });
});

test('attaches a hotpluggable disk added by an in-place save and detaches it when removed by a rename save', async () => {
  start(manifest());
  await watch!.settled();
  writeFileSync(file, manifest({ data: true }));
  await until('the attach', () => lines.includes('attached data as vdb'));
  expect(vm.calls).toEqual(['attach data /img/data.img virtio']);
  saveByRename(manifest());
  await until('the detach', () => lines.includes('detached data'));
  expect(vm.calls).toEqual(['attach data /img/data.img virtio', 'detach data']);
});

test('pauses and resumes on paused: true/false', async () => {
  start(manifest());
  saveByRename(manifest({ paused: true }));
  await until('pause', () => lines.includes('paused'));
  writeFileSync(file, manifest({ paused: false }));
  await until('resume', () => lines.includes('resumed'));
  expect(vm.calls).toEqual(['pause', 'resume']);
});

test('prints the errors of an invalid edit with field paths and changes nothing, then applies the next good edit', async () => {
  start(manifest());
  writeFileSync(file, manifest({ memory: '1Mi', paused: true }));
  await until('the errors', () => lines.some((l) => l.includes('spec.memory.guest: must be at least 16Mi')));
  expect(lines[0]).toBe(`${file} changed but is not valid; nothing applied, the VM keeps running as it is:`);
  writeFileSync(file, 'spec: [unclosed\n');
  await until('the YAML error', () => lines.some((l) => l.startsWith(`  ${file}:`) && l.includes('invalid YAML')));
  expect(vm.calls).toEqual([]);
  writeFileSync(file, manifest({ paused: true }));
  await until('pause', () => lines.includes('paused'));
  expect(vm.calls).toEqual(['pause']);
});

test('names the fields that need a restart and leaves the VM alone', async () => {
  start(manifest());
  writeFileSync(file, manifest({ cores: 2 }));
  await until('the restart notice', () => lines.some((l) => l.startsWith('needs a restart')));
  expect(lines).toEqual(['needs a restart (RestartRequired): spec.cpu.cores changed; the VM keeps running as it is until play is started again']);
  expect(vm.calls).toEqual([]);
});

test('asks for --disk NAME=PATH when a hotpluggable disk has no file, and attaches nothing', async () => {
  start(manifest(), { root: '/r' });
  writeFileSync(file, manifest({ data: true }));
  await until('the notice', () => lines.some((l) => l.includes('--disk data=PATH')));
  expect(vm.calls).toEqual([]);
});

test('prints a failed step with the launcher message, keeps watching and tries it again on the next edit', async () => {
  start(manifest());
  vm.failAttach = true;
  writeFileSync(file, manifest({ data: true }));
  await until('the failure', () => lines.includes('attach data failed: attaching disk data failed: no such file'));
  vm.failAttach = false;
  writeFileSync(file, `${manifest({ data: true })}# touched\n`);
  await until('the attach', () => lines.includes('attached data as vdb'));
  expect(vm.calls).toEqual(['attach data /img/data.img virtio', 'attach data /img/data.img virtio']);
});

test('says so when a save changes nothing that applies, and ignores a save with the same bytes', async () => {
  start(manifest());
  await watch!.settled();
  writeFileSync(file, `${manifest()}# a comment\n`);
  await until('the notice', () => lines.includes(`${file} changed; nothing to apply`));
  writeFileSync(file, `${manifest()}# a comment\n`);
  writeFileSync(join(dir, 'other.yaml'), 'not watched');
  await new Promise((r) => setTimeout(r, 300));
  await watch!.settled();
  expect(lines).toEqual([`${file} changed; nothing to apply`]);
});

test('stops applying once closed', async () => {
  start(manifest());
  await watch!.settled();
  watch!.close();
  writeFileSync(file, manifest({ paused: true }));
  await new Promise((r) => setTimeout(r, 300));
  await watch!.settled();
  expect(vm.calls).toEqual([]);
});
