import { classifyQemu, parseSmaps } from './proc.js';

const MiB = 2 ** 20;

/** One smaps entry with the fields the parser reads. */
function entry(header: string, sizeKb: number, rssKb: number, flags: string): string {
  return [header, `Size: ${sizeKb} kB`, `Rss: ${rssKb} kB`, `Anonymous: ${rssKb} kB`, `VmFlags: ${flags}`].join('\n');
}

const SMAPS = [
  entry('55d0-55e0 r-xp 00407000 fe:00 10166291                   /usr/bin/qemu-system-x86_64', 4096, 3000, 'rd ex mr mw me'),
  entry('55f0-5600 rw-p 00000000 00:00 0                          [heap]', 8192, 8000, 'rd wr mr mw me ac'),
  entry('7f10-7f20 rw-p 00000000 00:00 0 ', 131072, 120000, 'rd wr mr mw me dc ac dd hg mg'),
  entry('7f30-7f31 rw-p 00000000 00:00 0 ', 16384, 2048, 'rd wr mr mw me dc ac dd hg mg'),
  entry('7f40-7f41 rwxp 00000000 00:00 0 ', 2044, 2044, 'rd wr ex mr mw me ac'),
  entry('7f50-7f51 rwxp 00000000 00:00 0 ', 2044, 1000, 'rd wr ex mr mw me ac'),
].join('\n');

describe('classifyQemu', () => {
  const parts = classifyQemu(parseSmaps(SMAPS), 128 * MiB);

  it('finds the guest RAM block by its size among the RAM blocks', () => {
    expect(parts.guestRam).toEqual({ rss: 120000 * 1024, size: 128 * MiB });
    expect(parts.otherRamBlocks).toEqual({ rss: 2 * MiB, size: 16 * MiB });
  });

  it('counts the writable and executable anonymous mappings as the TCG cache', () => {
    expect(parts.tcgCache.rss).toBe((2044 + 1000) * 1024);
  });

  it('keeps file-backed pages apart from QEMU anonymous memory', () => {
    expect(parts.file.rss).toBe(3000 * 1024);
    expect(parts.otherAnon.rss).toBe(8000 * 1024);
  });
});
