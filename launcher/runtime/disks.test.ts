import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LauncherVm, ResolvedDisk } from '../../api/resolve.js';
import { createQcow2Overlay, ensureEmptyDisk, formatFromMagic, IMAGE_HEAD_BYTES, inspectDisk, prepareDisks, qcow2Reference, virtualSize } from './disks.js';
import { DiskError } from './errors.js';

const disk = (name: string, spec: Record<string, unknown>, extra: Partial<ResolvedDisk> = {}): ResolvedDisk => {
  const source = (['persistentVolumeClaim', 'emptyDisk', 'containerDisk', 'cloudInit', 'image'] as const).find((s) => s in spec)!;
  return { name, bus: 'virtio', readOnly: source === 'cloudInit', cache: 'none', hotpluggable: false, source, spec: { name, ...spec }, ...extra } as ResolvedDisk;
};
const MiB = 2 ** 20;
const vmWith = (disks: ResolvedDisk[], extra: Partial<LauncherVm> = {}): LauncherVm => ({ name: 'vm1', namespace: 'ns', disks, firmware: 'bios', ...extra }) as LauncherVm;

describe('disk preparation', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'disks-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('tells qcow2 from raw by the magic bytes', () => {
    expect(formatFromMagic(Buffer.from('QFI\xfb\x00\x00\x00\x03', 'latin1'))).toBe('qcow2');
    expect(formatFromMagic(Buffer.from('QFI'))).toBe('raw');
    expect(formatFromMagic(Buffer.alloc(512))).toBe('raw');
  });

  it('refuses a qcow2 image that names another file, as a guest could write one onto its raw disk', async () => {
    const header = (version: number, backingOffset: bigint, incompatible: bigint) => {
      const h = Buffer.alloc(IMAGE_HEAD_BYTES);
      h.write('QFI\xfb', 0, 'latin1');
      h.writeUInt32BE(version, 4);
      h.writeBigUInt64BE(backingOffset, 8);
      h.writeBigUInt64BE(incompatible, 72);
      return h;
    };
    expect(qcow2Reference(header(3, 0n, 0n))).toBeUndefined();
    expect(qcow2Reference(header(3, 512n, 0n))).toBe('a backing file');
    expect(qcow2Reference(header(3, 0n, 4n))).toBe('an external data file');
    expect(qcow2Reference(header(2, 0n, 4n))).toBeUndefined(); // v2 has no feature bits
    expect(qcow2Reference(Buffer.alloc(IMAGE_HEAD_BYTES))).toBeUndefined(); // raw
    // What a guest would write at the start of its raw disk: a header naming the launcher's key.
    const planted = join(dir, 'planted.img');
    await writeFile(planted, header(3, 0x1000n, 0n));
    const err = await inspectDisk('data', planted).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskError);
    expect(err).toMatchObject({ reason: 'DiskNotSelfContained', message: expect.stringMatching(/disk data: .*planted\.img is a qcow2 image that names a backing file; only self-contained images/) });
  });

  it('inspects files and block devices', async () => {
    const qcow = join(dir, 'a.qcow2');
    await writeFile(qcow, Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(100)]));
    expect(await inspectDisk('a', qcow)).toEqual({ path: qcow, format: 'qcow2', driver: 'file' });
    const empty = join(dir, 'empty.img');
    await writeFile(empty, '');
    expect(await inspectDisk('e', empty)).toEqual({ path: empty, format: 'raw', driver: 'file' });
    const loops = ['/dev/loop0', '/dev/ram0', '/dev/vda', '/dev/sda'];
    for (const dev of loops) {
      const readable = await access(dev, constants.R_OK).then(() => true, () => false);
      if (!readable || !(await stat(dev)).isBlockDevice()) continue;
      expect(await inspectDisk('b', dev)).toMatchObject({ driver: 'host_device' });
      break;
    }
  });

  it('names the disk and the fix when the image is missing or not a file', async () => {
    await expect(inspectDisk('root', join(dir, 'nope.img'))).rejects.toMatchObject({ reason: 'DiskNotFound', disk: 'root', message: expect.stringContaining('disk root:') });
    await expect(inspectDisk('root', dir)).rejects.toMatchObject({ reason: 'DiskInvalid' });
  });

  it('creates a sparse emptyDisk once and never truncates it', async () => {
    const path = join(dir, 'scratch', 'disk.img');
    await ensureEmptyDisk(path, 64 * 2 ** 20);
    const created = await stat(path);
    expect(created.size).toBe(64 * 2 ** 20);
    expect(created.blocks * 512).toBeLessThan(2 ** 20); // sparse
    await writeFile(path, 'guest data');
    await ensureEmptyDisk(path, 64 * 2 ** 20);
    expect(await readFile(path, 'utf8')).toBe('guest data');
  });

  it('prepares every cold-plugged disk and skips hotpluggable ones', async () => {
    const root = join(dir, 'root.img');
    await writeFile(root, Buffer.alloc(1024));
    const vm = vmWith([
      disk('root', { persistentVolumeClaim: { claimName: 'r' } }),
      disk('scratch', { emptyDisk: { capacity: '1Mi' } }),
      disk('hot', { persistentVolumeClaim: { claimName: 'h' } }, { hotpluggable: true }),
    ]);
    const runtimeDir = join(dir, 'run');
    const { backings, firmware } = await prepareDisks({ vm, paths: { root }, runtimeDir });
    expect(backings).toEqual({
      root: { path: root, format: 'raw', driver: 'file' },
      scratch: { path: join(runtimeDir, 'disks', 'scratch', 'disk.img'), format: 'raw', driver: 'file' },
    });
    expect(firmware).toBeUndefined();
    expect((await stat(backings.scratch!.path)).size).toBe(2 ** 20);
  });

  it('fails before QEMU starts when a disk has no mapping, naming the flag', async () => {
    const vm = vmWith([disk('root', { persistentVolumeClaim: { claimName: 'web-root' } })]);
    const err = await prepareDisks({ vm, paths: {}, runtimeDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskError);
    expect(err).toMatchObject({ reason: 'DiskNotMapped', disk: 'root' });
    expect((err as Error).message).toBe('disk root (persistentVolumeClaim web-root) has no local image; map it to an image file with --disk root=PATH');
  });

  it('creates disk.img of the claim’s size in a blank Filesystem PVC, and never resizes one', async () => {
    const vm = vmWith([disk('data', { persistentVolumeClaim: { claimName: 'd' } }), disk('ro', { persistentVolumeClaim: { claimName: 'r' } }, { readOnly: true })]);
    const data = join(dir, 'data', 'disk.img');
    await mkdir(join(dir, 'data'));
    const blankSizes = { data: 64 * MiB, ro: 64 * MiB };
    await expect(prepareDisks({ vm: vmWith([vm.disks[1]!]), paths: { ro: join(dir, 'ro.img') }, runtimeDir: dir, blankSizes })).rejects.toMatchObject({ reason: 'DiskNotFound' });
    const prepared = await prepareDisks({ vm: vmWith([vm.disks[0]!]), paths: { data }, runtimeDir: dir, blankSizes });
    expect(prepared.backings.data).toMatchObject({ format: 'raw' });
    const made = await stat(data);
    expect(made.size).toBe(64 * MiB);
    expect(made.blocks * 512).toBeLessThan(MiB); // sparse
    await prepareDisks({ vm: vmWith([vm.disks[0]!]), paths: { data }, runtimeDir: dir, blankSizes: { data: 128 * MiB } });
    expect((await stat(data)).size).toBe(64 * MiB);
  });

  it('grows an image disk’s raw disk.img to the size its claim was asked for, never shrinks it, and leaves qcow2 alone', async () => {
    const vm = vmWith([disk('root', { image: { name: 'debian' } })]);
    const root = join(dir, 'root.img');
    await writeFile(root, Buffer.alloc(MiB, 1));
    await prepareDisks({ vm, paths: { root }, runtimeDir: dir, blankSizes: { root: 64 * MiB } });
    const grown = await stat(root);
    expect(grown.size).toBe(64 * MiB);
    expect(grown.blocks * 512).toBeLessThan(4 * MiB); // sparse
    await prepareDisks({ vm, paths: { root }, runtimeDir: dir, blankSizes: { root: 32 * MiB } });
    expect((await stat(root)).size).toBe(64 * MiB);
    const qcow = join(dir, 'root.qcow2');
    const header = Buffer.alloc(MiB);
    Buffer.from('QFI\xfb', 'latin1').copy(header);
    header.writeUInt32BE(3, 4);
    await writeFile(qcow, header);
    await prepareDisks({ vm, paths: { root: qcow }, runtimeDir: dir, blankSizes: { root: 64 * MiB } });
    expect((await stat(qcow)).size).toBe(MiB);
  });

  it('refuses a writable disk whose image is read-only for us', async () => {
    if (process.getuid?.() === 0) return; // root may write anything
    const root = join(dir, 'ro.img');
    await writeFile(root, '');
    await chmod(root, 0o444);
    const vm = vmWith([disk('root', { persistentVolumeClaim: { claimName: 'r' } })]);
    await expect(prepareDisks({ vm, paths: { root }, runtimeDir: dir })).rejects.toMatchObject({ reason: 'DiskNotWritable' });
  });

  it('gives a writable image-volume containerDisk a qcow2 overlay of the image’s virtual size, made once', async () => {
    const image = join(dir, 'os.qcow2');
    const head = Buffer.alloc(IMAGE_HEAD_BYTES);
    head.write('QFI\xfb', 0, 'latin1');
    head.writeUInt32BE(3, 4);
    head.writeBigUInt64BE(5n * BigInt(MiB), 24);
    await writeFile(image, head);
    expect(virtualSize(head, 999)).toBe(5 * MiB);
    expect(virtualSize(Buffer.alloc(IMAGE_HEAD_BYTES), 999)).toBe(999);
    const made: [string, number][] = [];
    const createOverlay = async (path: string, bytes: number) => {
      made.push([path, bytes]);
      const qcow2 = Buffer.alloc(IMAGE_HEAD_BYTES);
      qcow2.write('QFI\xfb', 0, 'latin1');
      await writeFile(path, qcow2);
    };
    const overlay = join(dir, 'rw', 'overlay.qcow2');
    await mkdir(join(dir, 'rw'));
    const options = { vm: vmWith([disk('os', { containerDisk: { image: 'i' } })]), paths: { os: image }, runtimeDir: dir, mounted: { os: { overlay } }, createOverlay };
    const first = await prepareDisks(options);
    expect(first.backings.os).toEqual({ path: overlay, format: 'qcow2', driver: 'file', base: { path: image, format: 'qcow2' } });
    await prepareDisks(options);
    expect(made).toEqual([[overlay, 5 * MiB]]); // the guest's writes in the overlay survive a launcher restart in the pod
  });

  it('opens a read-only image-volume containerDisk directly, as a shared image', async () => {
    const image = join(dir, 'os.img');
    await writeFile(image, Buffer.alloc(MiB));
    const out = await prepareDisks({ vm: vmWith([disk('os', { containerDisk: { image: 'i' } }, { readOnly: true })]), paths: { os: image }, runtimeDir: dir, mounted: { os: {} } });
    expect(out.backings.os).toEqual({ path: image, format: 'raw', driver: 'file', shared: true });
  });

  it('creates a real qcow2 overlay with qemu-img that QEMU can read the base through', async () => {
    const overlay = join(dir, 'overlay.qcow2');
    await createQcow2Overlay(overlay, 3 * MiB);
    const head = Buffer.alloc(IMAGE_HEAD_BYTES);
    const { open } = await import('node:fs/promises');
    const h = await open(overlay, 'r');
    await h.read(head, 0, IMAGE_HEAD_BYTES, 0);
    await h.close();
    expect(formatFromMagic(head)).toBe('qcow2');
    expect(qcow2Reference(head)).toBeUndefined(); // no backing file in the header: the base is given by node
    expect(virtualSize(head, 0)).toBe(3 * MiB);
  });

  it('builds the cidata ISO from a Secret directory (userdata/networkdata keys)', async () => {
    const secretDir = join(dir, 'secret');
    await mkdir(secretDir);
    await writeFile(join(secretDir, 'userdata'), '#cloud-config\nfrom: secret\n');
    await writeFile(join(secretDir, 'networkData'), 'version: 2\n');
    const vm = vmWith([disk('ci', { cloudInit: { userDataSecretRef: { name: 's' } } })]);
    const { backings } = await prepareDisks({ vm, paths: {}, runtimeDir: dir, secretDirs: { ci: secretDir } });
    expect(backings.ci).toEqual({ path: join(dir, 'cidata-ci.iso'), format: 'raw', driver: 'file' });
    const iso = await readFile(backings.ci!.path);
    expect(iso.subarray(16 * 2048 + 1, 16 * 2048 + 6).toString()).toBe('CD001');
    expect(iso.includes(Buffer.from('from: secret'))).toBe(true);
  });

  it('explains a Secret without user data', async () => {
    const vm = vmWith([disk('ci', { cloudInit: { userDataSecretRef: { name: 's' } } })]);
    await expect(prepareDisks({ vm, paths: {}, runtimeDir: dir, secretDirs: { ci: dir } })).rejects.toMatchObject({ reason: 'CloudInitSecretInvalid', disk: 'ci' });
  });

  it('copies the EFI vars template once, keeping the VM copy afterwards', async () => {
    const template = join(dir, 'VARS.fd');
    await writeFile(template, 'template');
    const ovmf = { code: join(dir, 'CODE.fd'), varsTemplate: template };
    const vm = vmWith([], { firmware: 'efi' });
    const runtimeDir = join(dir, 'run');
    const { firmware } = await prepareDisks({ vm, paths: {}, runtimeDir, ovmf });
    expect(firmware).toEqual({ code: ovmf.code, vars: join(runtimeDir, 'efi-vars.fd') });
    await writeFile(firmware!.vars, 'boot entries');
    await prepareDisks({ vm, paths: {}, runtimeDir, ovmf });
    expect(await readFile(firmware!.vars, 'utf8')).toBe('boot entries');
  });

  it('names the missing firmware package', async () => {
    const vm = vmWith([], { firmware: 'efi' });
    const ovmf = { code: '/nonexistent/CODE.fd', varsTemplate: '/nonexistent/VARS.fd' };
    await expect(prepareDisks({ vm, paths: {}, runtimeDir: dir, ovmf })).rejects.toMatchObject({ reason: 'FirmwareNotFound' });
  });
});
