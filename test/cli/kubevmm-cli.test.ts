// The `kubevmm` command as users run it: installed with `npm install --global` (README), run as
// a process; exit codes 0 done, 1 failed, 2 usage error (the CLI contract).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { installKubevmm, type InstalledKubevmm } from './helpers/kubevmm.js';

let installed: InstalledKubevmm;
beforeAll(async () => {
  installed = await installKubevmm();
}, 120_000);
afterAll(() => installed?.remove());

function kubevmm(...args: string[]) {
  const r = spawnSync(installed.bin, args, { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kubevmm validate', () => {
  it('exits 0 for the examples', () => {
    const r = kubevmm('validate', 'examples/minimal.yaml', 'examples/full.yaml', 'examples/class.yaml', 'examples/quickstart.yaml');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('exits 1 and names the field path of an invalid manifest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubevmm-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'apiVersion: kubevmm.io/v1alpha1\nkind: VirtualMachine\nmetadata: {name: bad}\nspec:\n  memory: {guest: 1Gi}\n  cpu: {cores: 0}\n');
    const r = kubevmm('validate', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('VirtualMachine bad: spec.cpu.cores: must be at least 1');
  });

  it('exits 1 for a file that does not exist', () => {
    const r = kubevmm('validate', 'no-such-file.yaml');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no-such-file.yaml: cannot read: ENOENT');
  });
});

describe('kubevmm render', () => {
  it('prints an unprivileged launcher Pod with mapped resources', () => {
    const r = kubevmm('render', 'examples/full.yaml');
    expect(r.code).toBe(0);
    const pod = parse(r.stdout);
    expect(pod.kind).toBe('Pod');
    expect(pod.spec.containers[0].resources.requests).toMatchObject({ cpu: '200m', memory: '2184Mi', 'devices.kubevmm.io/kvm': '1' });
    expect(pod.spec.containers[0].securityContext.capabilities).toEqual({ drop: ['ALL'] });
  });

  it('checks operator flags with the operator schema', () => {
    const r = kubevmm('render', 'examples/minimal.yaml', '--accelerator', 'xen');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('accelerator: must be one of "kvm", "tcg", "auto"');
  });
});

describe('usage errors', () => {
  it.each([
    ['no command file', ['validate']],
    ['an unknown command', ['valdate', 'x.yaml']],
    ['an unknown option', ['render', 'examples/minimal.yaml', '--acelerator', 'tcg']],
    ['a choice out of range', ['play', 'examples/quickstart.yaml', '--accel', 'xen']],
  ])('exit 2 for %s, with the usage', (_what, args) => {
    const r = kubevmm(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: /m);
  });

  it('--help exits 0', () => {
    const r = kubevmm('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: kubevmm/);
  });
});
