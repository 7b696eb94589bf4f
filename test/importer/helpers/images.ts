// Disk images for the importer's system tests, made with the real qemu-img, xz and tar from
// one raw disk (an MBR signature, random data in the middle and a marked last sector), so an
// import's target can be compared byte for byte with the disk it started as.

import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { buildIso9660 } from '../../../launcher/cloudinit/iso9660.js';

const exec = promisify(execFile);
const MiB = 1024 * 1024;

/** The virtual size of the test disk. */
export const DISK_BYTES = 32 * MiB;

/** The files, by what they are. */
export interface DiskImages {
  dir: string;
  raw: string;
  qcow2: string;
  qcow2Gz: string;
  qcow2Xz: string;
  vmdk: string;
  /** An OVA whose OVF names os-disk.vmdk first, though data-disk.vmdk comes first in the archive. */
  ova: string;
  iso: string;
  /** A login page served where an image was expected. */
  html: string;
  /** A qcow2 whose backing file is the qcow2 above. */
  overlay: string;
  sha256(file: string): Promise<string>;
}

/** Fails loudly, with the install hint, when a tool the tests need is missing. */
export async function requireTools(): Promise<void> {
  for (const [tool, pkg] of [['qemu-img', 'qemu-utils'], ['xz', 'xz-utils'], ['tar', 'tar']] as const) {
    await exec(tool, ['--version']).catch((err: unknown) => {
      throw new Error(`${tool} is missing (${String(err)}); install it with: bash scripts/install-deps.sh (apt-get install ${pkg})`);
    });
  }
}

async function writeDisk(path: string, seed: Buffer): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(DISK_BYTES);
    await handle.write(Buffer.from([0x55, 0xaa]), 0, 2, 510);
    await handle.write(seed, 0, seed.length, 8 * MiB);
    await handle.write(Buffer.alloc(512, 0x5a), 0, 512, DISK_BYTES - 512);
  } finally {
    await handle.close();
  }
}

function ovf(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References>
    <File ovf:id="file-data" ovf:href="data-disk.vmdk"/>
    <File ovf:id="file-os" ovf:href="os-disk.vmdk"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:diskId="os" ovf:fileRef="file-os" ovf:capacity="${DISK_BYTES}" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
    <Disk ovf:diskId="data" ovf:fileRef="file-data" ovf:capacity="${DISK_BYTES}"/>
  </DiskSection>
</Envelope>
`;
}

/** Make every test image in `dir`. */
export async function makeDiskImages(dir: string): Promise<DiskImages> {
  await mkdir(join(dir, 'ova'), { recursive: true });
  const f = (name: string) => join(dir, name);
  await writeDisk(f('disk.raw'), randomBytes(2 * MiB));
  await writeDisk(f('data.raw'), randomBytes(MiB));
  await exec('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', f('disk.raw'), f('disk.qcow2')]);
  await exec('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', f('disk.raw'), f('disk.vmdk')]);
  await exec('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', f('disk.raw'), join(dir, 'ova', 'os-disk.vmdk')]);
  await exec('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', f('data.raw'), join(dir, 'ova', 'data-disk.vmdk')]);
  await writeFile(join(dir, 'ova', 'appliance.ovf'), ovf());
  await exec('tar', ['--format=ustar', '-cf', f('appliance.ova'), '-C', join(dir, 'ova'), 'appliance.ovf', 'data-disk.vmdk', 'os-disk.vmdk']);
  await writeFile(f('disk.qcow2.gz'), gzipSync(await readFile(f('disk.qcow2'))));
  await exec('sh', ['-c', 'xz -T1 -1 -c "$1" > "$2"', 'xz', f('disk.qcow2'), f('disk.qcow2.xz')]);
  await writeFile(f('cd.iso'), buildIso9660({ 'README.TXT': 'an installer would be here\n' }, 'TESTCD'));
  await writeFile(f('login.html'), '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form>user: <input name=u></form></body></html>\n');
  await exec('qemu-img', ['create', '-f', 'qcow2', '-b', f('disk.qcow2'), '-F', 'qcow2', f('overlay.qcow2')]);
  return {
    dir,
    raw: f('disk.raw'),
    qcow2: f('disk.qcow2'),
    qcow2Gz: f('disk.qcow2.gz'),
    qcow2Xz: f('disk.qcow2.xz'),
    vmdk: f('disk.vmdk'),
    ova: f('appliance.ova'),
    iso: f('cd.iso'),
    html: f('login.html'),
    overlay: f('overlay.qcow2'),
    sha256: async (file) => createHash('sha256').update(await readFile(file)).digest('hex'),
  };
}

/** Whether two files hold the same bytes (the imported disk.img and the raw disk it came from). */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([readFile(a), readFile(b)]);
  return x.equals(y);
}
