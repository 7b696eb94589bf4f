import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseOvaDisk, extractOvaDisk, firstOvfDisk, paxRecords, tarMembers, tarNumber } from './ova.js';

/** A ustar archive of the given members, built by hand (the format, not a library, is under test). */
function tar(members: { name: string; data: Buffer; type?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const h = Buffer.alloc(512);
    h.write(m.name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write(`${m.data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write(m.type ?? '0', 156);
    h.write('ustar\0', 257, 'latin1');
    h.write('00', 263, 'latin1');
    blocks.push(h, m.data, Buffer.alloc((512 - (m.data.length % 512)) % 512));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

const OVF = `<Envelope xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"><References>
<File ovf:id="f1" ovf:href="data.vmdk"/><File ovf:href="os.vmdk" ovf:id="f2" ovf:size="3"/></References>
<DiskSection><Info/><Disk ovf:diskId="d2" ovf:fileRef="f2" ovf:capacity="1"/><Disk ovf:diskId="d1" ovf:fileRef="f1"/></DiskSection></Envelope>`;

describe('firstOvfDisk', () => {
  it('follows DiskSection order to the File it references, whatever the attribute order', () => {
    expect(firstOvfDisk(OVF)).toBe('os.vmdk');
  });

  it('reads descriptors without a namespace prefix', () => {
    expect(firstOvfDisk('<References><File id="a" href="x.img"/></References><DiskSection><Disk diskId="1" fileRef="a"/></DiskSection>')).toBe('x.img');
  });

  it('is undefined when no disk references a file', () => {
    expect(firstOvfDisk('<References><File id="a" href="x.img"/></References><DiskSection></DiskSection>')).toBeUndefined();
  });
});

describe('chooseOvaDisk', () => {
  const members = [
    { name: 'a.ovf', offset: 512, size: 10 },
    { name: 'data.vmdk', offset: 1536, size: 3 },
    { name: './os.vmdk', offset: 2560, size: 3 },
  ];

  it('takes the OVF first disk, matching ./-prefixed member names', () => {
    expect(chooseOvaDisk(members, OVF).name).toBe('./os.vmdk');
  });

  it('without an OVF takes the first .vmdk, .img or .qcow2', () => {
    expect(chooseOvaDisk([{ name: 'README', offset: 0, size: 1 }, ...members.slice(1)], undefined).name).toBe('data.vmdk');
  });

  it('names what the archive holds when the disk is not there', () => {
    expect(() => chooseOvaDisk(members.slice(0, 2), OVF)).toThrow(/names its first disk "os.vmdk", which the archive does not hold \(it holds: a.ovf, data.vmdk\)/);
    expect(() => chooseOvaDisk([{ name: 'notes.txt', offset: 0, size: 1 }], undefined)).toThrow(expect.objectContaining({ reason: 'NotADiskImage', message: expect.stringContaining('notes.txt') }));
  });
});

describe('tar headers', () => {
  it('reads octal and base-256 numbers, and refuses garbage', () => {
    expect(tarNumber(Buffer.from('00000001750\0'))).toBe(1000);
    const big = Buffer.alloc(12);
    big[0] = 0x80;
    big.writeUIntBE(16 * 1024 ** 3, 6, 6);
    expect(tarNumber(big)).toBe(16 * 1024 ** 3);
    expect(() => tarNumber(Buffer.from('12x4'))).toThrow(/not a tar file/);
  });

  it('reads PAX path and size records', () => {
    expect(paxRecords(Buffer.from('30 path=disks/a-long-name.vmdk\n16 size=12345678\n20 mtime=1.5\n'))).toEqual({ path: 'disks/a-long-name.vmdk', size: 12345678 });
  });
});

describe('tarMembers and extractOvaDisk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ova-test-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lists regular files, applies a PAX name, and copies out the OVF first disk', async () => {
    const archive = join(dir, 'a.ova');
    await writeFile(
      archive,
      tar([
        { name: 'a.ovf', data: Buffer.from(OVF) },
        { name: 'dir', data: Buffer.alloc(0), type: '5' },
        { name: 'data.vmdk', data: Buffer.from('DATA') },
        { name: 'PaxHeader', data: Buffer.from('20 path=./os.vmdk\n'), type: 'x' },
        { name: 'truncated-name', data: Buffer.from('OS DISK BYTES') },
      ]),
    );
    expect((await tarMembers(archive)).map((m) => [m.name, m.size])).toEqual([
      ['a.ovf', Buffer.byteLength(OVF)],
      ['data.vmdk', 4],
      ['./os.vmdk', 13],
    ]);
    const out = join(dir, 'disk');
    expect((await extractOvaDisk(archive, out)).name).toBe('./os.vmdk');
    expect(await readFile(out, 'utf8')).toBe('OS DISK BYTES');
  });

  it('refuses an archive whose member runs past its end', async () => {
    const archive = join(dir, 'cut.ova');
    await writeFile(archive, tar([{ name: 'os.vmdk', data: Buffer.alloc(4096) }]).subarray(0, 1024));
    await expect(tarMembers(archive)).rejects.toThrow(/cut short/);
  });
});
