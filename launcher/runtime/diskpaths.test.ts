import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LauncherVm, ResolvedDisk } from '../../api/resolve.js';
import { containerDiskImage, mountedContainerDiskImage, parseDiskMappings, parseDiskSizes, podDiskLocations, unknownDiskMappings } from './diskpaths.js';

const disk = (name: string, source: ResolvedDisk['source'], spec: Record<string, unknown> = {}, hotpluggable = false) =>
  ({ name, source, hotpluggable, spec: { name, ...spec } }) as ResolvedDisk;
const vm = {
  disks: [
    disk('root', 'persistentVolumeClaim', { persistentVolumeClaim: { claimName: 'r' } }),
    disk('blk', 'persistentVolumeClaim', { persistentVolumeClaim: { claimName: 'b' } }),
    disk('scratch', 'emptyDisk'),
    disk('os', 'containerDisk'),
    disk('ci', 'cloudInit', { cloudInit: { userDataSecretRef: { name: 's' } } }),
    disk('inline', 'cloudInit', { cloudInit: { userData: 'x' } }),
    disk('hot', 'persistentVolumeClaim', { persistentVolumeClaim: { claimName: 'h' } }, true),
  ],
} as LauncherVm;

describe('podDiskLocations', () => {
  it('follows the pod layout: block device when present, else disk.img; Secret dirs for cloud-init', async () => {
    const isBlock = async (path: string) => path === '/dev/kubevmm/blk';
    const image = async (_disk: string, copy: string) => `${copy}/fedora.qcow2`;
    expect(await podDiskLocations(vm, isBlock, image)).toEqual({
      paths: {
        root: '/var/run/kubevmm/disks/root/disk.img',
        blk: '/dev/kubevmm/blk',
        scratch: '/var/run/kubevmm/disks/scratch/disk.img',
        os: '/var/run/kubevmm/disks/os/containerdisk/fedora.qcow2',
      },
      secretDirs: { ci: '/var/run/kubevmm/cloudinit/ci' },
      mounted: {},
    });
  });

  it('takes a containerDisk from its image volume when one is mounted, with an overlay for a writable disk', async () => {
    const mount = await mkdtemp(join(tmpdir(), 'kubevmm-cd-'));
    try {
      await mkdir(join(mount, 'rw', 'disk'), { recursive: true });
      await writeFile(join(mount, 'rw', 'disk', 'os.img'), 'x');
      await mkdir(join(mount, 'ro', 'images'), { recursive: true });
      await writeFile(join(mount, 'ro', 'images', 'os.qcow2'), 'x');
      const two = {
        disks: [disk('rw', 'containerDisk', { containerDisk: { image: 'i' } }), { ...disk('ro', 'containerDisk', { containerDisk: { image: 'i', path: '/images/os.qcow2' } }), readOnly: true }],
      } as LauncherVm;
      const root = await realpath(mount);
      expect(await podDiskLocations(two, async () => false, containerDiskImage, (d) => join(mount, d))).toEqual({
        paths: { rw: join(root, 'rw/disk/os.img'), ro: join(root, 'ro/images/os.qcow2') },
        secretDirs: {},
        mounted: { rw: { overlay: '/var/run/kubevmm/disks/rw/overlay.qcow2' }, ro: {} },
      });
    } finally {
      await rm(mount, { recursive: true, force: true });
    }
  });
});

describe('mountedContainerDiskImage', () => {
  let mount: string;
  let outside: string;
  beforeEach(async () => {
    mount = await mkdtemp(join(tmpdir(), 'kubevmm-image-'));
    outside = await mkdtemp(join(tmpdir(), 'kubevmm-secret-'));
    await writeFile(join(outside, 'tls.key'), 'secret');
  });
  afterEach(async () => {
    await rm(mount, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('follows links that stay inside the image', async () => {
    await mkdir(join(mount, 'data'));
    await writeFile(join(mount, 'data', 'real.img'), 'x');
    await mkdir(join(mount, 'disk'));
    await symlink('../data/real.img', join(mount, 'disk', 'os.img'));
    expect(await mountedContainerDiskImage('os', mount, '/disk')).toBe(join(await realpath(mount), 'data', 'real.img'));
  });

  it.each([
    ['an absolute link to the launcher’s key', (target: string) => target],
    ['a relative link climbing out', (target: string) => `../../../../../../../..${target}`],
  ])('refuses %s, naming the disk and the path', async (_what, link) => {
    await mkdir(join(mount, 'disk'));
    await symlink(link(join(outside, 'tls.key')), join(mount, 'disk', 'os.img'));
    await expect(mountedContainerDiskImage('os', mount, '/disk')).rejects.toThrow(/disk os: \/disk\/os.img in the containerDisk image is a symbolic link out of the image/);
    await expect(mountedContainerDiskImage('os', mount, '/disk/os.img')).rejects.toThrow(/symbolic link out of the image/);
  });

  it('refuses a directory link out of the image', async () => {
    await symlink(outside, join(mount, 'disk'));
    await expect(mountedContainerDiskImage('os', mount, '/disk')).rejects.toThrow(/\/disk in the containerDisk image is a symbolic link out of the image/);
  });

  it('names a missing path and a directory without exactly one image', async () => {
    await expect(mountedContainerDiskImage('os', mount, '/disk')).rejects.toThrow(/disk os: the containerDisk image has nothing at \/disk \(set containerDisk.path/);
    await mkdir(join(mount, 'disk'));
    await expect(mountedContainerDiskImage('os', mount, '/disk')).rejects.toThrow(/holds no regular file; it must hold exactly one disk image/);
    await writeFile(join(mount, 'disk', 'a.img'), 'x');
    await writeFile(join(mount, 'disk', 'b.img'), 'x');
    await expect(mountedContainerDiskImage('os', mount, '/disk')).rejects.toThrow(/holds 2 files; it must hold exactly one/);
  });
});

describe('parseDiskSizes', () => {
  it('parses NAME=BYTES', () => {
    expect(parseDiskSizes(['data=1073741824', 'logs=4096'])).toEqual({ data: 2 ** 30, logs: 4096 });
  });

  it.each(['data', 'data=', 'data=1Gi', 'data=0', '=5', 'data=-1', 'data=99999999999999999'])('refuses %s naming the form', (value) => {
    expect(() => parseDiskSizes([value])).toThrow(/--disk-size .*expected NAME=BYTES/);
  });

  it('refuses a disk given twice', () => {
    expect(() => parseDiskSizes(['a=1', 'a=2'])).toThrow(/--disk-size a is given twice/);
  });
});

describe('containerDiskImage', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'containerdisk-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('takes the copy itself when the path named a file, else the one regular file in it', async () => {
    await writeFile(join(dir, 'single'), 'x');
    expect(await containerDiskImage('os', join(dir, 'single'))).toBe(join(dir, 'single'));
    const copy = join(dir, 'copy');
    await mkdir(join(copy, 'nested'), { recursive: true });
    await writeFile(join(copy, 'disk.qcow2'), 'x');
    expect(await containerDiskImage('os', copy)).toBe(join(copy, 'disk.qcow2'));
  });

  it.each([
    ['nothing copied', async () => undefined, /disk os: the containerDisk was not copied to/],
    ['an empty directory', (copy: string) => mkdir(copy), /holds no regular file; it must hold exactly one disk image/],
    ['two images', async (copy: string) => (await mkdir(copy), await writeFile(join(copy, 'a.img'), ''), await writeFile(join(copy, 'b.img'), '')), /holds 2 files \(a\.img, b\.img\)/],
    ['only a symbolic link (never followed here)', async (copy: string) => (await mkdir(copy), await symlink('/etc/passwd', join(copy, 'disk.img'))), /holds no regular file/],
  ])('refuses %s, saying what it found', async (_what, make, message) => {
    const copy = join(dir, 'copy');
    await make(copy);
    await expect(containerDiskImage('os', copy)).rejects.toMatchObject({ reason: 'ContainerDiskInvalid', message: expect.stringMatching(message) });
  });
});

describe('parseDiskMappings', () => {
  it('parses NAME=PATH into absolute paths', () => {
    expect(parseDiskMappings(['root=./a.qcow2', 'data=/srv/d.img', 'odd=x=y'], '/home/u')).toEqual({
      root: '/home/u/a.qcow2',
      data: '/srv/d.img',
      odd: '/home/u/x=y',
    });
  });
  it.each([['root'], ['=x'], ['root=']])('rejects %s', (value) => {
    expect(() => parseDiskMappings([value])).toThrow(/expected NAME=PATH/);
  });
  it('rejects a disk given twice', () => {
    expect(() => parseDiskMappings(['a=/x', 'a=/y'])).toThrow('--disk a is given twice');
  });
  it('finds mappings that name no disk', () => {
    expect(unknownDiskMappings(vm, { root: '/x', rot: '/y' })).toEqual(['rot']);
  });
});
