import { describeContent, isTar, rawDiskKind, sniffCompression, SNIFF_BYTES } from './sniff.js';

const at = (offset: number, bytes: number[] | string, size = SNIFF_BYTES): Buffer => {
  const buf = Buffer.alloc(size);
  (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes)).copy(buf, offset);
  return buf;
};

describe('sniffCompression', () => {
  it.each([
    ['gzip', [0x1f, 0x8b, 8, 0], { compression: 'gzip' }],
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], { compression: 'xz' }],
    ['qcow2', [0x51, 0x46, 0x49, 0xfb], { compression: 'none' }],
    ['zstd', [0x28, 0xb5, 0x2f, 0xfd], { compression: 'none', unsupported: 'zstd' }],
    ['bzip2', [...Buffer.from('BZh9')], { compression: 'none', unsupported: 'bzip2' }],
    ['a truncated xz magic', [0xfd, 0x37, 0x7a], { compression: 'none' }],
  ])('%s', (_name, bytes, expected) => {
    expect(sniffCompression(Buffer.from(bytes))).toEqual(expected);
  });
});

describe('rawDiskKind', () => {
  it('knows an ISO 9660 volume before the MBR a hybrid ISO also has', () => {
    const hybrid = at(32769, 'CD001');
    hybrid[510] = 0x55;
    hybrid[511] = 0xaa;
    expect(rawDiskKind(hybrid)).toBe('iso');
  });

  it.each([
    ['an MBR', at(510, [0x55, 0xaa])],
    ['a GPT', at(512, 'EFI PART')],
    ['a bare ext4 filesystem', at(1080, [0x53, 0xef])],
    ['XFS', at(0, 'XFSB')],
    ['btrfs', at(65600, '_BHRfS_M')],
  ])('takes %s for a raw disk', (_name, head) => {
    expect(rawDiskKind(head)).toBe('raw');
  });

  it('refuses zeros, text and a short file', () => {
    expect(rawDiskKind(Buffer.alloc(SNIFF_BYTES))).toBeUndefined();
    expect(rawDiskKind(Buffer.from('hello world'))).toBeUndefined();
    expect(rawDiskKind(at(0, [], 400))).toBeUndefined();
  });
});

it('isTar looks for ustar at 257', () => {
  expect(isTar(at(257, 'ustar', 512))).toBe(true);
  expect(isTar(at(256, 'ustar', 512))).toBe(false);
});

describe('describeContent', () => {
  it.each([
    ['<!DOCTYPE html><html>', /HTML/],
    ['  <html><body>login', /HTML/],
    ['{"token":"secret-from-a-metadata-endpoint"}', /^plain text \(/],
    ['', /empty file/],
  ])('%j', (text, expected) => {
    expect(describeContent(Buffer.from(text))).toMatch(expected);
    expect(describeContent(Buffer.from(text))).not.toContain('secret');
  });

  it('names zeros and binary data', () => {
    expect(describeContent(Buffer.alloc(1024))).toMatch(/only zero bytes/);
    expect(describeContent(Buffer.from([1, 2, 3, 200, 0]))).toMatch(/no partition table/);
  });
});
