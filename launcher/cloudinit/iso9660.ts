// A small ISO 9660 image with a Joliet tree, written in-process: the cloud-init `cidata`
// volume is a handful of small files in one directory, and building it here takes well under a
// millisecond where spawning xorriso took ~100 ms of every VM start (bench/README.md, play).
// Pure: files in, image bytes out. Layout (2048-byte sectors): 16 empty sectors, the primary
// volume descriptor, the Joliet supplementary descriptor, the terminator, the four path tables,
// the two root directories (ISO level-1 names and Joliet UCS-2 names, both pointing at the same
// extents), then each file's data. Linux mounts the Joliet tree, so the guest sees the files
// under their own names (`meta-data`, `user-data`, `network-config`).

const SECTOR = 2048;
const FIRST_DESCRIPTOR = 16;
/** Sectors before the file data: 16 empty, 3 descriptors, 4 path tables, 2 root directories. */
const DATA_START = FIRST_DESCRIPTOR + 3 + 4 + 2;
const [PVD, SVD, TERMINATOR] = [16, 17, 18];
const PATH_TABLES = { isoL: 19, isoM: 20, jolietL: 21, jolietM: 22 };
const ROOT = { iso: 23, joliet: 24 };
/** Every date in the image: fixed, so the same files give the same bytes. */
const RECORDED = { year: 2000, month: 1, day: 1 };

/** A file of the image: its data, and where it lies once laid out. */
interface Placed {
  name: string;
  data: Buffer;
  lba: number;
}

function both16(buf: Buffer, at: number, value: number): void {
  buf.writeUInt16LE(value, at);
  buf.writeUInt16BE(value, at + 2);
}

function both32(buf: Buffer, at: number, value: number): void {
  buf.writeUInt32LE(value, at);
  buf.writeUInt32BE(value, at + 4);
}

/** A text field: ASCII padded with spaces, or UCS-2 big-endian padded with U+0020 (Joliet). */
function text(buf: Buffer, field: { at: number; length: number }, value: string, joliet: boolean): void {
  const { at, length } = field;
  if (!joliet) {
    buf.write(value.padEnd(length, ' ').slice(0, length), at, 'latin1');
    return;
  }
  const chars = value.padEnd(length / 2, ' ').slice(0, length / 2);
  for (let i = 0; i < chars.length; i++) buf.writeUInt16BE(chars.charCodeAt(i), at + 2 * i);
}

/** The descriptor dates (creation, modification, expiration, effective): "not specified". */
function descriptorDates(buf: Buffer): void {
  for (const at of [813, 830, 847, 864]) buf.write('0'.repeat(16), at, 'latin1');
}

/** An ISO 9660 level-1 name: 8 upper-case characters, a dot, the version (`USER_DAT.;1`). */
export function isoName(name: string): string {
  return `${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_').slice(0, 8)}.;1`;
}

/** A Joliet name: the file's own name, UCS-2 big-endian, with the version Linux strips. */
function jolietName(name: string): Buffer {
  const id = `${name};1`;
  const out = Buffer.alloc(id.length * 2);
  for (let i = 0; i < id.length; i++) out.writeUInt16BE(id.charCodeAt(i), 2 * i);
  return out;
}

/** One directory record (ECMA-119 9.1): the extent, its length, a fixed date, flags, the name. */
function directoryRecord(extent: { lba: number; length: number }, id: Buffer, directory: boolean): Buffer {
  const length = 33 + id.length + (id.length % 2 === 0 ? 1 : 0);
  const rec = Buffer.alloc(length);
  rec[0] = length;
  both32(rec, 2, extent.lba);
  both32(rec, 10, extent.length);
  rec.set([RECORDED.year - 1900, RECORDED.month, RECORDED.day, 0, 0, 0, 0], 18);
  rec[25] = directory ? 2 : 0;
  both16(rec, 28, 1);
  rec[32] = id.length;
  id.copy(rec, 33);
  return rec;
}

/** A root directory: `.`, `..`, then the files sorted by their identifier's bytes. */
function rootDirectory(lba: number, files: readonly Placed[], idOf: (name: string) => Buffer): Buffer {
  const dir = Buffer.alloc(SECTOR);
  const self = { lba, length: SECTOR };
  const entries = [directoryRecord(self, Buffer.from([0]), true), directoryRecord(self, Buffer.from([1]), true)];
  const named = files.map((f) => ({ id: idOf(f.name), f })).sort((a, b) => Buffer.compare(a.id, b.id));
  for (const { id, f } of named) entries.push(directoryRecord({ lba: f.lba, length: f.data.length }, id, false));
  let at = 0;
  for (const entry of entries) {
    if (at + entry.length > SECTOR) throw new RangeError('too many files for one directory sector');
    entry.copy(dir, at);
    at += entry.length;
  }
  return dir;
}

/** A path table of the root alone, little- or big-endian (ECMA-119 9.4). */
function pathTable(rootLba: number, bigEndian: boolean): Buffer {
  const table = Buffer.alloc(10);
  table[0] = 1;
  if (bigEndian) table.writeUInt32BE(rootLba, 2);
  else table.writeUInt32LE(rootLba, 2);
  if (bigEndian) table.writeUInt16BE(1, 6);
  else table.writeUInt16LE(1, 6);
  return table;
}

/** The primary (Joliet: supplementary) volume descriptor. */
function volumeDescriptor(opts: { joliet: boolean; label: string; sectors: number }): Buffer {
  const vd = Buffer.alloc(SECTOR);
  vd[0] = opts.joliet ? 2 : 1;
  vd.write('CD001', 1, 'latin1');
  vd[6] = 1;
  text(vd, { at: 8, length: 32 }, '', opts.joliet);
  text(vd, { at: 40, length: 32 }, opts.label, opts.joliet);
  both32(vd, 80, opts.sectors);
  if (opts.joliet) vd.write('%/E', 88, 'latin1'); // UCS-2 level 3
  both16(vd, 120, 1);
  both16(vd, 124, 1);
  both16(vd, 128, SECTOR);
  both32(vd, 132, 10);
  const tables = opts.joliet ? [PATH_TABLES.jolietL, PATH_TABLES.jolietM] : [PATH_TABLES.isoL, PATH_TABLES.isoM];
  vd.writeUInt32LE(tables[0] ?? 0, 140);
  vd.writeUInt32BE(tables[1] ?? 0, 148);
  directoryRecord({ lba: opts.joliet ? ROOT.joliet : ROOT.iso, length: SECTOR }, Buffer.from([0]), true).copy(vd, 156);
  // Volume set, publisher, data preparer, application: blank. The copyright, abstract and
  // bibliographic file names stay blank in the primary descriptor and zero in Joliet's.
  for (const at of [190, 318, 446, 574]) text(vd, { at, length: 128 }, '', opts.joliet);
  if (!opts.joliet) for (const at of [702, 739, 776]) text(vd, { at, length: 37 }, '', false);
  descriptorDates(vd);
  vd[881] = 1;
  return vd;
}

/**
 * An ISO 9660 image with a Joliet tree of `files` (name -> content) in its root, labelled
 * `label` in both volume descriptors. Names must be unique after the level-1 mapping (8
 * characters), which the few NoCloud names are.
 */
export function buildIso9660(files: Readonly<Record<string, string | Buffer>>, label: string): Buffer {
  let lba = DATA_START;
  const placed: Placed[] = Object.entries(files).map(([name, content]) => {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    const file = { name, data, lba };
    lba += Math.ceil(data.length / SECTOR);
    return file;
  });
  const isoNames = new Set(placed.map((f) => isoName(f.name)));
  if (isoNames.size !== placed.length) throw new RangeError(`file names collide as ISO 9660 names: ${placed.map((f) => f.name).join(', ')}`);
  const sectors = lba;
  const image = Buffer.alloc(sectors * SECTOR);
  const put = (sector: number, data: Buffer) => data.copy(image, sector * SECTOR);
  put(PVD, volumeDescriptor({ joliet: false, label, sectors }));
  put(SVD, volumeDescriptor({ joliet: true, label, sectors }));
  put(TERMINATOR, Buffer.from([255, ...Buffer.from('CD001', 'latin1'), 1]));
  put(PATH_TABLES.isoL, pathTable(ROOT.iso, false));
  put(PATH_TABLES.isoM, pathTable(ROOT.iso, true));
  put(PATH_TABLES.jolietL, pathTable(ROOT.joliet, false));
  put(PATH_TABLES.jolietM, pathTable(ROOT.joliet, true));
  put(ROOT.iso, rootDirectory(ROOT.iso, placed, (name) => Buffer.from(isoName(name), 'latin1')));
  put(ROOT.joliet, rootDirectory(ROOT.joliet, placed, jolietName));
  for (const f of placed) put(f.lba, f.data);
  return image;
}
