import { buildIso9660, isoName } from './iso9660.js';

const SECTOR = 2048;
const FILES = { 'meta-data': 'instance-id: abc\n', 'user-data': `#cloud-config\n${'x'.repeat(5000)}\n`, 'network-config': 'version: 2\n' };

/** The directory records of the root directory at `lba`: name bytes, extent and length. */
function rootEntries(image: Buffer, lba: number): { id: Buffer; lba: number; length: number; directory: boolean }[] {
  const out = [];
  for (let at = lba * SECTOR; image[at]; at += image[at] ?? 0) {
    const length = image[at + 32] ?? 0;
    out.push({ id: image.subarray(at + 33, at + 33 + length), lba: image.readUInt32LE(at + 2), length: image.readUInt32LE(at + 10), directory: ((image[at + 25] ?? 0) & 2) !== 0 });
  }
  return out;
}

const ucs2 = (b: Buffer) => String.fromCharCode(...Array.from({ length: b.length / 2 }, (_, i) => b.readUInt16BE(2 * i)));

describe('buildIso9660', () => {
  const image = buildIso9660(FILES, 'cidata');

  it('has the primary descriptor, the Joliet descriptor and the terminator, labelled in both', () => {
    expect([image[16 * SECTOR], image.toString('latin1', 16 * SECTOR + 1, 16 * SECTOR + 6)]).toEqual([1, 'CD001']);
    expect(image.toString('latin1', 16 * SECTOR + 40, 16 * SECTOR + 72).trimEnd()).toBe('cidata');
    expect([image[17 * SECTOR], image.toString('latin1', 17 * SECTOR + 88, 17 * SECTOR + 91)]).toEqual([2, '%/E']);
    expect(ucs2(image.subarray(17 * SECTOR + 40, 17 * SECTOR + 72)).trimEnd()).toBe('cidata');
    expect(image[18 * SECTOR]).toBe(255);
    // Volume space size, both-endian, matches the image.
    expect(image.readUInt32LE(16 * SECTOR + 80) * SECTOR).toBe(image.length);
    expect(image.readUInt32BE(16 * SECTOR + 84) * SECTOR).toBe(image.length);
  });

  it('lists each file in both trees, sorted, pointing at the same bytes', () => {
    const iso = rootEntries(image, image.readUInt32LE(16 * SECTOR + 156 + 2));
    const joliet = rootEntries(image, image.readUInt32LE(17 * SECTOR + 156 + 2));
    expect(iso.slice(0, 2).every((e) => e.directory)).toBe(true);
    expect(iso.slice(2).map((e) => e.id.toString('latin1'))).toEqual(['META_DAT.;1', 'NETWORK_.;1', 'USER_DAT.;1']);
    expect(joliet.slice(2).map((e) => ucs2(e.id))).toEqual(['meta-data;1', 'network-config;1', 'user-data;1']);
    for (const e of joliet.slice(2)) {
      const name = ucs2(e.id).replace(/;1$/, '') as keyof typeof FILES;
      expect(image.toString('utf8', e.lba * SECTOR, e.lba * SECTOR + e.length)).toBe(FILES[name]);
      expect(iso.find((i) => i.lba === e.lba)?.length).toBe(e.length);
    }
  });

  it('is the same bytes for the same files (no clock in it)', () => {
    expect(buildIso9660(FILES, 'cidata').equals(image)).toBe(true);
  });

  it('refuses names that collide as 8-character ISO names', () => {
    expect(isoName('user-data')).toBe('USER_DAT.;1');
    expect(() => buildIso9660({ 'user-data-a': 'a', 'user-data-b': 'b' }, 'cidata')).toThrow(/collide/);
  });
});
