import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EXIT, VerbError } from '../exit.js';
import { parseManifests } from '../load.js';
import { validateReport } from '../validate.js';
import type { CreateVmRequest } from './args.js';
import { createVmManifest, flagOf, IMAGE_DISKS, runCreateVm } from './create.js';

const request = (extra: Partial<CreateVmRequest> = {}): CreateVmRequest => ({ verb: 'create-vm', name: 'web-1', source: { claim: 'web-1-root' }, apply: false, ...extra });

/** Runs `create vm` without a cluster: what it printed on stdout, or what it threw. */
async function print(req: CreateVmRequest): Promise<string> {
  const out: string[] = [];
  const code = await runCreateVm(req, () => Promise.reject(new Error('printing must not connect')), { out: { write: (c: string) => out.push(c) }, err: { write: () => true } });
  expect(code).toBe(EXIT.ok);
  return out.join('');
}

/** `kubevmm validate` on the printed text, through the same code the verb runs. */
const validated = (yaml: string) => validateReport(parseManifests(yaml, 'create.yaml'));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-create-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('create vm', () => {
  it.each([
    ['--claim', { claim: 'web-1-root' }, { name: 'root', persistentVolumeClaim: { claimName: 'web-1-root' } }],
    ['--container-disk', { containerDisk: 'registry.example/os/debian:12' }, { name: 'root', containerDisk: { image: 'registry.example/os/debian:12' } }],
  ] as const)('%s: prints a manifest that passes kubevmm validate', async (_flag, source, disk) => {
    const yaml = await print(request({ source }));
    expect(parse(yaml)).toEqual({ apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web-1' }, spec: { memory: { guest: '1Gi' }, disks: [disk] } });
    expect(validated(yaml)).toEqual({ ok: true, out: ['create.yaml:1: VirtualMachine web-1: valid'], err: [] });
  });

  it('with --class the class gives memory and CPUs; -n, --memory and --cores are written as given', async () => {
    expect(parse(await print(request({ className: 'standard-2' }))).spec).toEqual({ className: 'standard-2', disks: [{ name: 'root', persistentVolumeClaim: { claimName: 'web-1-root' } }] });
    const yaml = await print(request({ className: 'standard-2', memory: '4Gi', cores: 2, namespace: 'team-a' }));
    expect(parse(yaml)).toMatchObject({ metadata: { name: 'web-1', namespace: 'team-a' }, spec: { className: 'standard-2', cpu: { cores: 2 }, memory: { guest: '4Gi' } } });
    // The class is not in the file: validate checks the rest and says so.
    expect(validated(yaml)).toMatchObject({ ok: true, err: ['create.yaml:1: warning: VirtualMachine team-a/web-1: class "standard-2" is not in the input; its defaults and limits were not checked'] });
  });

  it('--cloud-init FILE: its content is the userData of a cloudInit disk, verbatim', async () => {
    const file = join(dir, 'user-data.yaml');
    const userData = '#cloud-config\nhostname: web-1\nssh_authorized_keys:\n  - ssh-ed25519 AAAA me@host\nruncmd:\n  - [sh, -c, "echo \'quoted: yes\' > /etc/motd"]\n';
    await writeFile(file, userData);
    const yaml = await print(request({ cloudInit: file }));
    expect(parse(yaml).spec.disks[1]).toEqual({ name: 'cloudinit', cloudInit: { userData } });
    expect(validated(yaml).ok).toBe(true);
  });

  it('--cloud-init: a missing or binary file is refused, naming the file', async () => {
    await expect(print(request({ cloudInit: join(dir, 'absent') }))).rejects.toThrow(`--cloud-init ${join(dir, 'absent')}: cannot read: ENOENT`);
    const binary = join(dir, 'user-data.gz');
    await writeFile(binary, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe]));
    await expect(print(request({ cloudInit: binary }))).rejects.toThrow(/not UTF-8 text; .*userDataSecretRef/);
  });

  it('flags that make an invalid VM: a usage error (exit 2) naming each flag and why', async () => {
    const err = (await print(request({ name: 'Web_1', memory: 'lots' })).catch((e: unknown) => e)) as VerbError;
    expect(err).toBeInstanceOf(VerbError);
    expect(err.exitCode).toBe(EXIT.usage);
    expect(err.message).toMatch(/^these flags make an invalid VirtualMachine:\n {2}NAME: VirtualMachine default\/Web_1: metadata\.name: must be a DNS-1035 label/m);
    expect(err.message).toMatch(/^ {2}--memory: VirtualMachine default\/Web_1: spec\.memory\.guest: /m);
    const big = join(dir, 'big.yaml');
    await writeFile(big, `#cloud-config\n# ${'x'.repeat(300_000)}\n`);
    await expect(print(request({ cloudInit: big }))).rejects.toThrow(/--cloud-init: VirtualMachine default\/web-1: spec: is \d+ bytes as JSON; .*move cloud-init data to a Secret \(userDataSecretRef\)/);
  });

  it('maps each field to the flag behind it', () => {
    expect(flagOf('spec.disks[0].containerDisk.image', request({ source: { containerDisk: 'x' } }))).toBe('--container-disk');
    expect(flagOf('spec.disks[0].persistentVolumeClaim.claimName', request())).toBe('--claim');
    expect(flagOf('spec.disks[1].cloudInit.userData', request())).toBe('--cloud-init');
    expect(flagOf('spec.cpu', request())).toBe('--cores');
    expect(flagOf('spec.className', request())).toBe('--class');
  });

  it('--image: the root disk is a claim of the VM’s own made from the VirtualMachineImage (spec.disks[].image)', () => {
    expect(IMAGE_DISKS).toBe(true);
    const manifest = createVmManifest(request({ source: { image: 'debian-12' } }));
    expect((manifest.spec.disks as unknown[])[0]).toEqual({ name: 'root', image: { name: 'debian-12' } });
  });
});
