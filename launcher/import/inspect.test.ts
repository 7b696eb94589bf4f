import { headerRefusal, judgeImage, parseImageInfo, type ImageInfo } from './inspect.js';
import { SNIFF_BYTES } from './sniff.js';

const MBR = (() => {
  const head = Buffer.alloc(SNIFF_BYTES);
  head[510] = 0x55;
  head[511] = 0xaa;
  return head;
})();
const options = { file: '/scratch/source.img', head: MBR, capacityBytes: 10 * 1024 ** 3 };
const info = (over: Partial<ImageInfo>): ImageInfo => ({ format: 'qcow2', virtualSize: 2 * 1024 ** 3, ...over });

describe('parseImageInfo (qemu-img info --output=json)', () => {
  it('reads the format, size and what an image points at', () => {
    const qcow2 = { 'virtual-size': 1073741824, filename: 'a.qcow2', format: 'qcow2', 'backing-filename': '/etc/shadow', 'format-specific': { type: 'qcow2', data: { compat: '1.1', 'data-file': '/dev/kubevmm/target', corrupt: false } } };
    expect(parseImageInfo(qcow2)).toEqual({ format: 'qcow2', virtualSize: 1073741824, backing: '/etc/shadow', dataFile: '/dev/kubevmm/target' });
    const vmdk = { 'virtual-size': 512, format: 'vmdk', 'format-specific': { type: 'vmdk', data: { extents: [{ filename: '/scratch/source.img' }, { filename: '/scratch/other-f001.vmdk' }] } } };
    expect(parseImageInfo(vmdk)).toEqual({ format: 'vmdk', virtualSize: 512, extents: ['/scratch/source.img', '/scratch/other-f001.vmdk'] });
    expect(parseImageInfo({ format: 'qcow2', 'virtual-size': 1, encrypted: true, 'format-specific': { data: { corrupt: true } } })).toMatchObject({ encrypted: true, corrupt: true });
  });
});

describe('judgeImage', () => {
  it('takes a self-contained qcow2 that fits', () => {
    expect(judgeImage(info({}), options)).toEqual({ qemuFormat: 'qcow2', format: 'qcow2', virtualSizeBytes: 2 * 1024 ** 3 });
  });

  it('takes a raw disk, and names an ISO iso', () => {
    expect(judgeImage(info({ format: 'raw' }), options).format).toBe('raw');
    const iso = Buffer.alloc(SNIFF_BYTES);
    iso.write('CD001', 32769, 'latin1');
    expect(judgeImage(info({ format: 'raw' }), { ...options, head: iso })).toEqual({ qemuFormat: 'raw', format: 'iso', virtualSizeBytes: 2 * 1024 ** 3 });
  });

  it('refuses a raw file that is not a disk, unless it is a block device copy', () => {
    const html = Buffer.from('<!doctype html><title>login</title>');
    expect(() => judgeImage(info({ format: 'raw' }), { ...options, head: html })).toThrow(expect.objectContaining({ reason: 'NotADiskImage', message: expect.stringMatching(/not a disk image: it is an HTML/) }));
    expect(judgeImage(info({ format: 'raw' }), { ...options, head: Buffer.alloc(SNIFF_BYTES), anyRaw: true }).format).toBe('raw');
  });

  it.each([
    ['a backing file', info({ backing: 'base.qcow2' }), 'UnsupportedFormat', /backing file \(base.qcow2\)/],
    ['an external data file', info({ dataFile: '/dev/kubevmm/target' }), 'UnsupportedFormat', /external file/],
    ['a VMDK extent elsewhere', info({ format: 'vmdk', extents: ['/scratch/source.img', '/var/run/kubevmm/import/credentials/tls.key'] }), 'UnsupportedFormat', /other files \(tls.key\)/],
    ['an encrypted image', info({ encrypted: true }), 'UnsupportedFormat', /encrypted/],
    ['a corrupt image', info({ corrupt: true }), 'NotADiskImage', /corrupt/],
    ['vdi', info({ format: 'vdi' }), 'UnsupportedFormat', /is vdi/],
    ['luks', info({ format: 'luks' }), 'UnsupportedFormat', /is luks/],
    ['a zero size', info({ virtualSize: 0 }), 'NotADiskImage', /no size/],
  ])('refuses %s', (_name, i, reason, message) => {
    expect(() => judgeImage(i, options)).toThrow(expect.objectContaining({ reason, message: expect.stringMatching(message) }));
  });

  it('a VMDK whose only extent is itself is fine', () => {
    expect(judgeImage(info({ format: 'vmdk', extents: ['/scratch/source.img'] }), options).format).toBe('vmdk');
  });

  it('an image larger than the claim is ClaimTooSmall naming the size to set', () => {
    expect(() => judgeImage(info({ virtualSize: 3 * 1024 ** 3 + 1 }), { ...options, capacityBytes: 3 * 1024 ** 3 })).toThrow(expect.objectContaining({ reason: 'ClaimTooSmall', message: expect.stringContaining('at least 3073Mi') }));
    expect(judgeImage(info({ virtualSize: options.capacityBytes }), options).virtualSizeBytes).toBe(options.capacityBytes);
  });
});

describe('headerRefusal (before qemu-img opens anything)', () => {
  const qcow2 = (version: number, backingOffset: bigint, incompatible: bigint): Buffer => {
    const h = Buffer.alloc(104);
    h.writeUInt32BE(0x514649fb, 0);
    h.writeUInt32BE(version, 4);
    h.writeBigUInt64BE(backingOffset, 8);
    h.writeBigUInt64BE(incompatible, 72);
    return h;
  };

  it('refuses a qcow2 header naming a backing file or an external data file', () => {
    expect(headerRefusal(qcow2(3, 0n, 0n))).toBeUndefined();
    expect(headerRefusal(qcow2(3, 104n, 0n))?.message).toMatch(/backing file/);
    expect(headerRefusal(qcow2(3, 0n, 4n))?.message).toMatch(/external data file/);
    expect(headerRefusal(qcow2(2, 0n, 4n))).toBeUndefined();
  });

  it('refuses a text VMDK descriptor', () => {
    expect(headerRefusal(Buffer.from('# Disk DescriptorFile\nversion=1\nRW 100 FLAT "/dev/sda" 0\n'))).toMatchObject({ reason: 'UnsupportedFormat' });
  });
});
