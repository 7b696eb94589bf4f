import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launcherVm } from '../api/resolve.js';
import { DEFAULT_CONFIG } from '../api/schema/config.js';
import { main, readVmFile } from './main.js';

describe('launcher run: failures before QEMU starts', () => {
  let dir: string;
  let log: string;
  const realWrite = process.stderr.write.bind(process.stderr);
  let stderr: string[];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'launcher-main-'));
    log = join(dir, 'termination-log');
    stderr = [];
    // The launcher reports on stderr; keep it out of the test output but look at it.
    process.stderr.write = ((chunk: string | Uint8Array) => stderr.push(String(chunk)) > 0) as typeof process.stderr.write;
  });
  afterEach(async () => {
    process.stderr.write = realWrite;
    await rm(dir, { recursive: true, force: true });
  });

  const vmFile = async () => {
    const vm = launcherVm(
      { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'cli', namespace: 'ns' }, spec: { memory: { guest: '128Mi' }, disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'r' } }] } },
      undefined,
      DEFAULT_CONFIG,
    );
    const path = join(dir, 'vm.json');
    await writeFile(path, JSON.stringify(vm));
    return path;
  };
  const run = (...args: string[]) => main(['run', '--runtime-dir', join(dir, 'run'), '--termination-log', log, '--accel', 'tcg', ...args]);

  it('writes one line naming the missing disk image and exits non-zero', async () => {
    const code = await run('--vm', await vmFile(), '--disk', `root=${join(dir, 'missing.img')}`);
    expect(code).toBe(1);
    const line = await readFile(log, 'utf8');
    expect(line).toBe(`DiskNotFound: disk root: ${join(dir, 'missing.img')} does not exist; give an existing image file or block device for it\n`);
    expect(stderr).toContain(`kubevmm: ${line}`);
  });

  it('rejects a --disk for a disk the VM does not have', async () => {
    expect(await run('--vm', await vmFile(), '--disk', 'rot=/x.img')).toBe(1);
    expect(await readFile(log, 'utf8')).toMatch(/^InvalidArgument: --disk rot: the vm has no such disk \(its disks: root\)\n$/);
  });

  it('rejects an unreadable or foreign VM file', async () => {
    expect(await run('--vm', join(dir, 'nope.json'))).toBe(1);
    expect(await readFile(log, 'utf8')).toMatch(/^InvalidVmFile: cannot read the vm description/);
    const foreign = join(dir, 'foreign.json');
    await writeFile(foreign, JSON.stringify({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine' }));
    await expect(readVmFile(foreign)).rejects.toMatchObject({ reason: 'InvalidVmFile', message: expect.stringMatching(/not a resolved vm as the operator writes it.*name: .*cpu: /) });
  });

  it('holds an edited annotation to the contract before anything reaches QEMU or a path', async () => {
    const vm = JSON.parse(await readFile(await vmFile(), 'utf8')) as { cpu: { model: string }; disks: { name: string }[] };
    const edited = join(dir, 'edited.json');
    vm.cpu.model = 'max,+vmx';
    vm.disks[0]!.name = '../../etc';
    await writeFile(edited, JSON.stringify(vm));
    expect(await run('--vm', edited)).toBe(1);
    const line = await readFile(log, 'utf8');
    expect(line).toMatch(/^InvalidVmFile: .*cpu\.model: a CPU model is letters, digits/);
    expect(line).toMatch(/disks\.0\.name: /);
  });

  it('checks the control flags', async () => {
    expect(await run('--vm', await vmFile(), '--control-port', 'http')).toBe(1);
    expect(await readFile(log, 'utf8')).toMatch(/^InvalidArgument: --control-port http: not a port number/);
  });

  it('returns commander exit codes for usage errors', async () => {
    expect(await main(['run', '--accel', 'fast'])).not.toBe(0);
    expect(await main(['nope'])).not.toBe(0);
  });
});
