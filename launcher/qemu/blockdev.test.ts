import { blockNodeNames, blockNodes, diskNodes, guestWriteCache, hostCache, MAX_NODE_NAME } from './blockdev.js';

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

describe('diskNodes', () => {
  it('puts a qcow2 overlay on a read-only base named by node, the base read through the page cache', () => {
    const nodes = diskNodes({
      disk: { name: 'os', readOnly: false, cache: 'none' },
      backing: { path: '/run/os/overlay.qcow2', format: 'qcow2', driver: 'file', base: { path: '/cd/os/disk.qcow2', format: 'qcow2' } },
    });
    expect(nodes.map((n) => n['node-name'])).toEqual(['bfile-os', 'bfmt-os', 'file-os', 'fmt-os']);
    expect(nodes[0]).toEqual({ driver: 'file', filename: '/cd/os/disk.qcow2', 'node-name': 'bfile-os', 'read-only': true, cache: { direct: false, 'no-flush': false } });
    // A qcow2 base opens nothing its header names; the overlay's backing is the base node.
    expect(nodes[1]).toMatchObject({ driver: 'qcow2', file: 'bfile-os', 'read-only': true, backing: null });
    expect(nodes[3]).toMatchObject({ driver: 'qcow2', file: 'file-os', 'read-only': false, backing: 'bfmt-os', cache: { direct: true, 'no-flush': false } });
  });

  it('reads a shared read-only image through the page cache, whatever the cache mode', () => {
    const nodes = diskNodes({ disk: { name: 'os', readOnly: true, cache: 'none' }, backing: { path: '/cd/os.img', format: 'raw', driver: 'file', shared: true } });
    expect(nodes.map((n) => n.cache.direct)).toEqual([false, false]);
    expect(nodes[1]).not.toHaveProperty('backing');
  });

  it('is blockNodes for any other disk', () => {
    const input = { disk: { name: 'd', readOnly: false, cache: 'none' as const }, backing: { path: '/d.img', format: 'raw' as const, driver: 'file' as const } };
    expect(diskNodes(input)).toEqual(blockNodes(input));
  });
});
