import { blockNodeNames, blockNodes, guestWriteCache, hostCache, MAX_NODE_NAME } from './blockdev.js';

describe('cache modes', () => {
  it.each([
    ['none', true, true],
    ['writethrough', false, false],
    ['writeback', false, true],
  ] as const)('%s: direct=%s, guest write cache=%s', (cache, direct, writeCache) => {
    expect(hostCache(cache)).toEqual({ direct, 'no-flush': false });
    expect(guestWriteCache(cache)).toBe(writeCache);
  });
});

describe('blockNodeNames', () => {
  it('uses file-/fmt- prefixes for short names', () => {
    expect(blockNodeNames('root')).toEqual({ file: 'file-root', format: 'fmt-root' });
  });

  it.each([26, 27, 40, 63])('keeps a %i-character name within QEMU\'s limit, readable and distinct', (length) => {
    const a = 'd'.repeat(length);
    const b = `${'d'.repeat(length - 1)}e`;
    const [na, nb] = [blockNodeNames(a), blockNodeNames(b)];
    for (const name of [na.file, na.format, nb.file, nb.format]) expect(name.length).toBeLessThanOrEqual(MAX_NODE_NAME);
    expect(na.file).toMatch(/^file-d+/);
    expect(na.file).not.toBe(nb.file);
    expect(na.format).not.toBe(nb.format);
  });
});

describe('blockNodes', () => {
  it('a writable qcow2 file: unmap discards, zero detection, O_DIRECT for cache none', () => {
    const nodes = blockNodes({
      disk: { name: 'data', readOnly: false, cache: 'none' },
      backing: { path: '/d/disk.img', format: 'qcow2', driver: 'file' },
    });
    expect(nodes).toEqual([
      { driver: 'file', filename: '/d/disk.img', 'node-name': 'file-data', 'read-only': false, cache: { direct: true, 'no-flush': false }, discard: 'unmap' },
      {
        driver: 'qcow2',
        file: 'file-data',
        'node-name': 'fmt-data',
        'read-only': false,
        cache: { direct: true, 'no-flush': false },
        discard: 'unmap',
        'detect-zeroes': 'unmap',
      },
    ]);
  });

  it('a read-only block device: read-only on both nodes, no discard', () => {
    const [protocol, format] = blockNodes({
      disk: { name: 'os', readOnly: true, cache: 'writeback' },
      backing: { path: '/dev/kubevmm/os', format: 'raw', driver: 'host_device' },
    });
    expect(protocol).toEqual({ driver: 'host_device', filename: '/dev/kubevmm/os', 'node-name': 'file-os', 'read-only': true, cache: { direct: false, 'no-flush': false } });
    expect(format).toEqual({ driver: 'raw', file: 'file-os', 'node-name': 'fmt-os', 'read-only': true, cache: { direct: false, 'no-flush': false } });
  });
});
