// Writes real cidata ISOs (in-process, iso9660.ts) and reads them back with other tools: the
// primary volume descriptor by hand, the files through xorriso's extractor, the label through
// blkid (`apt-get install xorriso`; a missing reader fails the test, it is never skipped).
import { execFile } from 'node:child_process';
import { mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CIDATA_LABEL, writeCidataIso } from './iso.js';

const exec = promisify(execFile);
const FILES = {
  'meta-data': 'instance-id: abc\nlocal-hostname: web-1\n',
  'user-data': '#cloud-config\nhostname: web-1\n',
  'network-config': 'version: 2\n',
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-cidata-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** ISO9660 primary volume descriptor: sector 16 (0x8000), type 1, "CD001", label at 0x8028. */
async function volumeDescriptors(iso: string): Promise<{ type: number; magic: string; label: string; next: number }> {
  const file = await open(iso, 'r');
  try {
    const buf = Buffer.alloc(4096);
    await file.read(buf, 0, 4096, 0x8000);
    return {
      type: buf[0] ?? -1,
      magic: buf.toString('latin1', 1, 6),
      label: buf.toString('latin1', 0x28, 0x28 + 32).trimEnd(),
      // The next descriptor (sector 17): 2 = supplementary, i.e. Joliet.
      next: buf[0x800] ?? -1,
    };
  } finally {
    await file.close();
  }
}

describe('writeCidataIso', () => {
  it('writes an ISO9660 volume labelled cidata with Joliet and the files under their own names', async () => {
    const iso = join(dir, 'cidata.iso');
    await writeCidataIso(FILES, iso);
    expect(await volumeDescriptors(iso)).toEqual({ type: 1, magic: 'CD001', label: CIDATA_LABEL, next: 2 });

    const out = join(dir, 'extracted');
    await exec('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out]);
    expect((await readdir(out)).sort()).toEqual(['meta-data', 'network-config', 'user-data']);
    for (const [name, content] of Object.entries(FILES)) expect(await readFile(join(out, name), 'utf8')).toBe(content);
    const { stdout } = await exec('xorriso', ['-indev', iso, '-report_system_area', 'plain', '-pvd_info']);
    expect(stdout).toMatch(/Volume Id\s*:\s*cidata/);
  });

  it('is readable by its owner only and leaves no staging files behind', async () => {
    const iso = join(dir, 'cidata.iso');
    await writeCidataIso({ 'meta-data': 'x', 'user-data': 'secret' }, iso);
    expect((await stat(iso)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['cidata.iso']);
  });

  it('replaces an existing ISO atomically', async () => {
    const iso = join(dir, 'cidata.iso');
    await writeFile(iso, 'old');
    await writeCidataIso(FILES, iso);
    expect((await volumeDescriptors(iso)).label).toBe(CIDATA_LABEL);
  });

  it('is what blkid (the way cloud-init finds it) reads as LABEL=cidata', async () => {
    const iso = join(dir, 'cidata.iso');
    await writeCidataIso(FILES, iso);
    const { stdout } = await exec('blkid', ['-p', '-o', 'value', '-s', 'LABEL', iso]);
    expect(stdout.trim()).toBe(CIDATA_LABEL);
  });

  it('leaves out a file that is not there (no network-config)', async () => {
    const iso = join(dir, 'cidata.iso');
    await writeCidataIso({ 'meta-data': 'instance-id: a\n', 'user-data': '#cloud-config\n', 'network-config': undefined }, iso);
    const out = join(dir, 'extracted');
    await exec('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out]);
    expect((await readdir(out)).sort()).toEqual(['meta-data', 'user-data']);
  });
});
