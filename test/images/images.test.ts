// The images built without Docker (scripts/images), as the real-node harness gets them: one
// `<ref> <archive>` line each, archives skopeo reads under exactly that reference, configs and
// Debian package sets equal to what the Dockerfile's stages say, and the images really run:
// QEMU and the launcher bundle as UID 107 in the launcher's own root filesystem, the
// containerDisk copied by the command the operator renders, pause as 65535.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir, copyFile, chown } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveVm } from '../../api/resolve.js';
import { LAYOUT } from '../../api/layout.js';
import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import { diskVolumes } from '../../operator/render/volumes.js';
import { containerDiskImage } from '../../launcher/runtime/diskpaths.js';
import { LAUNCHER_UID } from '../../operator/render/security.js';
import { REPO_ROOT } from '../../scripts/bundle.js';
import { resolvePackages } from '../../scripts/images/apt.js';
import { probeNode } from '../../scripts/images/bases.js';
import { cacheRoot } from '../../scripts/images/cache.js';
import { aptInstalls, parseDockerfile, stage, stageConfig, type Dockerfile } from '../../scripts/images/dockerfile.js';
import { projectBases } from '../../scripts/images/project.js';
import { dpkgStatus, runIn, unpackImage, type Unpacked } from './helpers/unpack.js';

const exec = promisify(execFile);
const BUILD = join(REPO_ROOT, 'scripts/images/build.sh');
/** Cold: two mmdebstrap bootstraps (~3 min each on a busy two-core machine) plus gzip. */
const BUILD_TIMEOUT_MS = 30 * 60_000;
/** Unpacking a 200 MB rootfs and running programs in it. */
const RUN_TIMEOUT_MS = 120_000;

interface Line {
  ref: string;
  archive: string;
}

async function build(args: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<{ lines: Line[]; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('bash', [BUILD, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => {
        const [ref = '', ...rest] = l.split(' ');
        return { ref, archive: rest.join(' ') };
      });
    return { lines, stderr };
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`bash scripts/images/build.sh ${args.join(' ')} failed (install the tools with bash scripts/install-deps.sh): ${(err as Error).message}\n${stderr.slice(-3000)}`, { cause: err });
  }
}

async function requireTools(): Promise<void> {
  for (const tool of ['skopeo', 'mmdebstrap', 'unshare']) {
    await exec('sh', ['-c', `command -v ${tool}`]).catch(() => {
      throw new Error(`${tool} is missing; install it with: bash scripts/install-deps.sh`);
    });
  }
  if (process.getuid?.() !== 0) throw new Error('this suite unpacks images with their owners and chroots into them: run it as root');
}

let lines: Line[];
let work: string;
let dockerfile: Dockerfile;
const unpacked = new Map<string, Unpacked>();
const byName = (name: string) => {
  const line = lines.find((l) => l.ref.startsWith(`kubevmm.local/${name}:`));
  if (!line) throw new Error(`build.sh printed no ${name} image: ${JSON.stringify(lines)}`);
  return line;
};
async function image(name: string): Promise<Unpacked> {
  if (!unpacked.has(name)) {
    const dir = join(work, name);
    await mkdir(dir);
    unpacked.set(name, await unpackImage(byName(name).archive, dir));
  }
  return unpacked.get(name)!;
}

beforeAll(async () => {
  await requireTools();
  work = await mkdtemp(join(tmpdir(), 'kubevmm-images-test-'));
  dockerfile = parseDockerfile(await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  ({ lines } = await build());
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('build.sh output', () => {
  it('prints one line per image: a non-latest reference derived from the key, and its archive', async () => {
    expect(lines.map((l) => l.ref.replace(/-[0-9a-f]{12}$/, '-KEY'))).toEqual(['kubevmm.local/launcher:0.1.0-KEY', 'kubevmm.local/operator:0.1.0-KEY', 'kubevmm.local/guest-disk:0.1.0-KEY', 'kubevmm.local/pause:3.10.2-KEY']);
    for (const l of lines) {
      expect(l.archive.startsWith(cacheRoot())).toBe(true);
      expect((await stat(l.archive)).size).toBeGreaterThan(0);
    }
  }, RUN_TIMEOUT_MS);

  it('gives archives that skopeo opens under exactly the printed reference, and containerd will name the same', async () => {
    for (const l of lines) {
      const { stdout } = await exec('skopeo', ['inspect', `oci-archive:${l.archive}:${l.ref}`], { maxBuffer: 16 * 1024 * 1024 });
      expect(JSON.parse(stdout)).toMatchObject({ Architecture: 'amd64', Os: 'linux' });
    }
    const { annotations } = await image('pause');
    expect(annotations['io.containerd.image.name']).toBe(byName('pause').ref);
  }, RUN_TIMEOUT_MS);

  it('finds every image in the cache on a rerun with nothing changed', async () => {
    const again = await build();
    expect(again.lines).toEqual(lines);
    expect(again.stderr).not.toContain('building');
    expect(again.stderr.match(/: cached /g)).toHaveLength(4);
  }, BUILD_TIMEOUT_MS);
});

describe('equivalence with the Dockerfile stages', () => {
  it.each(['launcher', 'operator'])('%s: the OCI config is the stage config (user, workdir, entrypoint, env)', async (name) => {
    const { stdout } = await exec('skopeo', ['inspect', '--config', `oci-archive:${byName(name).archive}`], { maxBuffer: 16 * 1024 * 1024 });
    const expected = stageConfig(stage(dockerfile, name), projectBases({ dockerfile, node: await probeNode(join(cacheRoot(), 'memo')) })[stage(dockerfile, name).from.replace(/^\$\{|\}$/g, '')]!.config);
    expect((JSON.parse(stdout) as { config: unknown }).config).toEqual(expected);
    expect(expected).toMatchObject(name === 'launcher' ? { User: '107:107', WorkingDir: '/app', Entrypoint: ['node', '/app/launcher.mjs'] } : { User: '65532:65532', WorkingDir: '/app', Entrypoint: ['node', '/app/operator.mjs'] });
  }, RUN_TIMEOUT_MS);

  it.each(['launcher', 'operator'])('%s: dpkg status holds exactly minbase plus the stage packages, without recommends', async (name) => {
    const installed = await dpkgStatus((await image(name)).root);
    const wanted = name === 'launcher' ? aptInstalls(stage(dockerfile, 'launcher')) : (await probeNode(join(cacheRoot(), 'memo'))).libraryPackages;
    for (const pkg of wanted) expect([pkg, installed.has(pkg)]).toEqual([pkg, true]);
    const expected = (await resolvePackages(wanted, join(cacheRoot(), 'memo'))).map((p) => p.slice(0, p.indexOf('=')));
    expect([...installed.keys()].sort()).toEqual(expected.sort());
    expect(installed.has('usrmerge')).toBe(false); // merged /usr as debootstrap makes it, no perl
  }, RUN_TIMEOUT_MS);

  it('launcher: the qemu user and group are 107, created before any package', async () => {
    const { root } = await image('launcher');
    expect(await readFile(join(root, 'etc/passwd'), 'utf8')).toContain(`qemu:x:${LAUNCHER_UID}:${LAUNCHER_UID}::/nonexistent:/usr/sbin/nologin\n`);
    expect(await readFile(join(root, 'etc/group'), 'utf8')).toContain(`qemu:x:${LAUNCHER_UID}:\n`);
  }, RUN_TIMEOUT_MS);
});

describe('the images run', () => {
  it('launcher: QEMU and the launcher bundle start as UID 107 with the image config', async () => {
    const { root, config } = await image('launcher');
    const qemu = await runIn(root, '107:107', ['qemu-system-x86_64', '--version'], config.config);
    expect(qemu.stdout).toMatch(/^QEMU emulator version 7\.2/);
    const help = await runIn(root, '107:107', [...config.config.Entrypoint!, '--help'], config.config);
    expect(help.stdout).toContain('kubevmm launcher: runs one virtual machine in QEMU');
    const id = await runIn(root, '107:107', ['id'], config.config);
    expect(id.stdout.trim()).toBe('uid=107(qemu) gid=107(qemu) groups=107(qemu)');
  }, RUN_TIMEOUT_MS);

  it('launcher: `launcher import` converts an .xz qcow2 onto a claim directory as UID 107 with the image\'s own qemu-img and xz', async () => {
    const { root, config } = await image('launcher');
    const dir = join(root, 'tmp/import');
    await Promise.all(['scratch', 'target', 'source'].map((d) => mkdir(join(dir, d), { recursive: true })));
    const raw = Buffer.alloc(4 * 1024 * 1024);
    raw.writeUInt16BE(0x55aa, 510);
    raw.write('imported inside the launcher image', 1024 * 1024);
    await writeFile(join(dir, 'disk.raw'), raw);
    await exec('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', join(dir, 'disk.raw'), join(dir, 'disk.qcow2')]);
    await exec('xz', ['-T1', '-z', join(dir, 'disk.qcow2'), '--stdout'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }).then(({ stdout }) => writeFile(join(dir, 'source/disk.qcow2.xz'), stdout));
    const { testAuthority, writeLauncherCredentials } = await import('../../harness/pki.js');
    await writeLauncherCredentials(await testAuthority(), { name: 'img', namespace: 'ns', uid: '0b7e6f3a-2f4e-4d55-8a1b-6c7d8e9f0a1b' }, join(dir, 'credentials'));
    await writeFile(join(dir, 'task.json'), JSON.stringify({ source: { kind: 'file', path: '/tmp/import/source/disk.qcow2.xz' }, target: { mode: 'Filesystem', capacityBytes: raw.length } }));
    await exec('chown', ['-R', `${LAUNCHER_UID}:${LAUNCHER_UID}`, dir]);
    const flags = ['--task', '/tmp/import/task.json', '--port', '0', '--host', '127.0.0.1', '--credentials', '/tmp/import/credentials', '--scratch', '/tmp/import/scratch', '--target-dir', '/tmp/import/target', '--termination-log', '/tmp/import/termination-log'];
    await runIn(root, `${LAUNCHER_UID}:${LAUNCHER_UID}`, [...config.config.Entrypoint!, 'import', ...flags], config.config);
    expect(JSON.parse(await readFile(join(dir, 'termination-log'), 'utf8'))).toEqual({ format: 'qcow2', virtualSizeBytes: raw.length, checksumVerified: false });
    expect((await readFile(join(dir, 'target/disk.img'))).equals(raw)).toBe(true);
  }, RUN_TIMEOUT_MS);

  it('operator: node runs the operator bundle as 65532 with the image config', async () => {
    const { root, config } = await image('operator');
    const help = await runIn(root, config.config.User!, [...config.config.Entrypoint!, '--help'], config.config);
    expect(help.stdout).toMatch(/Usage: kubevmm-operator/);
  }, RUN_TIMEOUT_MS);

  it('guest-disk: the containerDisk copy the operator renders runs as 107 with the launcher busybox', async () => {
    const [{ root }, launcher] = await Promise.all([image('guest-disk'), image('launcher')]);
    const disk = await stat(join(root, 'disk/guest.img'));
    expect([disk.uid, disk.gid, (disk.mode & 0o777).toString(8)]).toEqual([LAUNCHER_UID, LAUNCHER_UID, '440']);

    const vm = resolveVm(
      { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'vm', namespace: 'ns' }, spec: { memory: { guest: '1Gi' }, disks: [{ name: 'os', containerDisk: { image: byName('guest-disk').ref } }] } },
      undefined,
      DEFAULT_CONFIG,
    );
    const init = diskVolumes(vm, { launcherImage: byName('launcher').ref, pvcs: {}, containerDiskDelivery: 'copy' }).initContainers;
    const [tools, copy] = [init.find((c) => c.name === 'tools')!, init.find((c) => c.name === 'containerdisk-os')!];
    // The tools init container (in the launcher image) copies busybox out; here: from its rootfs.
    expect(tools.command!.slice(0, 2)).toEqual(['cp', '/usr/lib/kubevmm/busybox']);
    await mkdir(join(root, LAYOUT.toolsDir), { recursive: true });
    await copyFile(join(launcher.root, 'bin/busybox'), join(root, LAYOUT.toolsDir, 'busybox'));
    await exec('chmod', ['0755', join(root, LAYOUT.toolsDir, 'busybox')]);
    await mkdir(join(root, LAYOUT.diskDir('os')), { recursive: true });
    await chown(join(root, LAYOUT.diskDir('os')), LAUNCHER_UID, LAUNCHER_UID);
    await runIn(root, `${LAUNCHER_UID}:${LAUNCHER_UID}`, copy.command!);
    // The launcher looks for the one image in the copied directory, as in the pod.
    const found = await containerDiskImage('os', join(root, LAYOUT.containerDiskCopy('os')));
    expect(found).toBe(join(root, LAYOUT.containerDiskCopy('os'), 'guest.img'));
    const copied = await readFile(found);
    expect(copied.equals(await readFile(join(root, 'disk/guest.img')))).toBe(true);
  }, RUN_TIMEOUT_MS);

  it('pause: runs as 65535 and reports the version of the Kubernetes pause.c it was built from', async () => {
    const { root, config } = await image('pause');
    expect(config.config).toEqual({ User: '65535:65535', Entrypoint: ['/pause'] });
    const { stdout } = await runIn(root, config.config.User!, ['/pause', '-v']);
    expect(stdout.trim()).toBe('pause.c v3.10.2-kubevmm');
  }, RUN_TIMEOUT_MS);
});

describe('a generic image from a spec (harness images of static binaries)', () => {
  it('packs the files with their owners and config, and the result runs', async () => {
    const cache = join(work, 'spec-cache');
    const spec = join(work, 'busybox.json');
    await writeFile(
      spec,
      JSON.stringify({
        name: 'kubevmm.local/test-busybox',
        version: '1.0',
        files: [
          { path: '/bin/busybox', source: join((await image('launcher')).root, 'bin/busybox'), mode: '0755' },
          { path: '/bin/sh', symlink: 'busybox' },
          { path: '/data', directory: true, mode: '0750', uid: 65532, gid: 65532 },
        ],
        config: { entrypoint: ['/bin/sh', '-c'], cmd: ['echo hello from $(id -u)'], user: '65532:65532', workingDir: '/data', env: { PATH: '/bin' } },
      }),
    );
    const { lines: out } = await build(['--spec', spec], { ...process.env, KUBEVMM_CACHE: cache });
    expect(out).toHaveLength(1);
    expect(out[0]!.ref).toMatch(/^kubevmm\.local\/test-busybox:1\.0-[0-9a-f]{12}$/);
    expect(out[0]!.archive.startsWith(join(cache, 'images'))).toBe(true);
    const dir = join(work, 'spec');
    await mkdir(dir);
    const { root, config } = await unpackImage(out[0]!.archive, dir);
    const data = await stat(join(root, 'data'));
    expect([data.uid, (data.mode & 0o7777).toString(8)]).toEqual([65532, '750']);
    const { stdout } = await runIn(root, config.config.User!, [...config.config.Entrypoint!, ...config.config.Cmd!], config.config);
    expect(stdout.trim()).toBe('hello from 65532');
  }, RUN_TIMEOUT_MS);
});
