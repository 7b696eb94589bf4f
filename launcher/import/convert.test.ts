import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertArgs, directWritable, targetSpec, temporaryName } from './convert.js';

describe('convertArgs', () => {
  it('converts to raw, sparse, with the probed format fixed, into the temporary file', () => {
    expect(convertArgs({ source: '/s/source.img', format: 'qcow2', output: temporaryName('/t/disk.img'), block: false, direct: false })).toEqual(['convert', '-p', '-f', 'qcow2', '-O', 'raw', '-S', '4k', '-W', '-m', '8', '/s/source.img', '/t/disk.img.importing']);
  });

  it('bypasses the page cache on a target that takes direct I/O', () => {
    expect(convertArgs({ source: '/s', format: 'raw', output: '/t/disk.img.importing', block: false, direct: true }).slice(-4)).toEqual(['-t', 'none', '/s', '/t/disk.img.importing']);
  });

  it('writes onto an existing device without creating it', () => {
    expect(convertArgs({ source: '/s', format: 'raw', output: '/dev/kubevmm/target', block: true, direct: false }).slice(-3)).toEqual(['-n', '/s', '/dev/kubevmm/target']);
  });
});

describe('targetSpec', () => {
  it('cuts the target to the virtual size, so a larger device compares equal', () => {
    expect(JSON.parse(targetSpec({ mode: 'Block', device: '/dev/kubevmm/target' }, 4096).slice(5))).toEqual({ driver: 'raw', size: 4096, file: { driver: 'host_device', filename: '/dev/kubevmm/target' } });
    expect(JSON.parse(targetSpec({ mode: 'Filesystem', path: '/t/disk.img' }, 512).slice(5))).toEqual({ driver: 'raw', size: 512, file: { driver: 'file', filename: '/t/disk.img.importing' } });
  });
});

describe('directWritable', () => {
  it('creates the output empty where the file system takes O_DIRECT, and a missing directory is an error, not the page cache', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kubevmm-direct-'));
    try {
      expect(await directWritable(join(dir, 'disk.img.importing'), false)).toBe(true);
      expect((await stat(join(dir, 'disk.img.importing'))).size).toBe(0);
      await expect(directWritable(join(dir, 'missing', 'disk.img.importing'), false)).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
