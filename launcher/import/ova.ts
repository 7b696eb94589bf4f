// An OVA is a tar archive: an OVF descriptor (XML) and the files it references, usually
// streamOptimized VMDKs. The importer takes the first disk in the OVF's DiskSection (its
// fileRef names a File in References, whose href names a tar member); without an OVF, or one
// naming no disk, the first member ending .vmdk, .img or .qcow2. Member names are only ever
// looked up in the archive's index, never used as paths.

import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ImportError } from './errors.js';

const BLOCK = 512;
/** More members than any appliance has; an archive with more is refused rather than walked forever. */
const MAX_MEMBERS = 10_000;
/** Largest OVF descriptor read. */
const MAX_OVF_BYTES = 4 * 1024 * 1024;

/** One regular file in the archive. */
export interface TarMember {
  name: string;
  /** Where its data starts in the archive. */
  offset: number;
  size: number;
}

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString('utf8');
}

/** A numeric header field: octal text, or base-256 when the top bit of the first byte is set (GNU, for sizes over 8 GiB). */
export function tarNumber(raw: Buffer): number {
  if (raw.length > 0 && (raw[0]! & 0x80) !== 0) {
    let value = raw[0]! & 0x7f;
    for (const byte of raw.subarray(1)) value = value * 256 + byte;
    return value;
  }
  const text = raw.toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]*$/.test(text)) throw new ImportError({ reason: 'NotADiskImage', message: `the archive's header holds ${JSON.stringify(text)} where an octal number belongs: it is not a tar file (an OVA)` });
  return text ? parseInt(text, 8) : 0;
}

/** `path` and `size` records of a PAX extended header. */
export function paxRecords(data: Buffer): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  for (const m of data.toString('utf8').matchAll(/^\d+ (path|size)=(.*)$/gm)) {
    if (m[1] === 'path') out.path = m[2];
    else if (/^\d+$/.test(m[2]!)) out.size = Number(m[2]);
  }
  return out;
}

/** The regular files of a tar archive, read header by header (data is skipped, not read). */
export async function tarMembers(path: string): Promise<TarMember[]> {
  const handle = await open(path, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const members: TarMember[] = [];
    let offset = 0;
    let pending: { path?: string; size?: number } = {};
    const header = Buffer.alloc(BLOCK);
    while (offset + BLOCK <= fileSize && members.length < MAX_MEMBERS) {
      await handle.read(header, 0, BLOCK, offset);
      if (header.every((b) => b === 0)) break;
      const type = String.fromCharCode(header[156]!);
      const prefix = field(header, 345, 155);
      const size = pending.size ?? tarNumber(header.subarray(124, 136));
      const name = pending.path ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
      const dataAt = offset + BLOCK;
      if (dataAt + size > fileSize) throw new ImportError({ reason: 'NotADiskImage', message: `the archive is cut short: member ${name} needs ${size} bytes past the end` });
      if (type === 'x' || type === 'L') {
        const data = Buffer.alloc(Math.min(size, 64 * 1024));
        await handle.read(data, 0, data.length, dataAt);
        pending = type === 'x' ? paxRecords(data) : { ...pending, path: data.toString('utf8').replace(/\0.*$/s, '') };
      } else {
        if (type === '0' || type === '\0') members.push({ name, offset: dataAt, size });
        pending = {};
      }
      offset = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    }
    return members;
  } finally {
    await handle.close();
  }
}

const attribute = (attrs: string, name: string): string | undefined => new RegExp(`(?:^|\\s)(?:[\\w-]+:)?${name}\\s*=\\s*"([^"]*)"`).exec(attrs)?.[1];

/** The href of the first disk of an OVF descriptor, by DiskSection order; undefined when it names none. */
export function firstOvfDisk(ovf: string): string | undefined {
  const files = new Map<string, string>();
  for (const m of ovf.matchAll(/<(?:[\w-]+:)?File\b([^>]*)>/g)) {
    const id = attribute(m[1]!, 'id');
    const href = attribute(m[1]!, 'href');
    if (id && href) files.set(id, href);
  }
  for (const m of ovf.matchAll(/<(?:[\w-]+:)?Disk\b([^>]*)>/g)) {
    const ref = attribute(m[1]!, 'fileRef');
    if (ref && files.has(ref)) return files.get(ref);
  }
  return undefined;
}

const DISK_EXTENSIONS = /\.(vmdk|img|qcow2)$/i;
const normalize = (name: string): string => name.replace(/^(\.\/)+/, '');

/** The member holding the OVA's first disk (pure: the OVF's text is passed in when there is one). */
export function chooseOvaDisk(members: readonly TarMember[], ovf: string | undefined): TarMember {
  const href = ovf === undefined ? undefined : firstOvfDisk(ovf);
  if (href !== undefined) {
    const named = members.find((m) => normalize(m.name) === normalize(href));
    if (!named) throw new ImportError({ reason: 'NotADiskImage', message: `the OVA's descriptor names its first disk ${JSON.stringify(href)}, which the archive does not hold (it holds: ${members.map((m) => m.name).join(', ')})` });
    return named;
  }
  const disk = members.find((m) => DISK_EXTENSIONS.test(m.name));
  if (!disk) throw new ImportError({ reason: 'NotADiskImage', message: `the tar archive (an OVA?) holds no disk: no OVF naming one and no .vmdk, .img or .qcow2 member among ${members.slice(0, 20).map((m) => m.name).join(', ') || 'no files'}` });
  return disk;
}

/** Copy the OVA's first disk out of the archive into `dest`; resolves with the member taken. */
export async function extractOvaDisk(archive: string, dest: string): Promise<TarMember> {
  const members = await tarMembers(archive);
  const ovfMember = members.find((m) => /\.ovf$/i.test(m.name));
  let ovf: string | undefined;
  if (ovfMember) {
    const handle = await open(archive, 'r');
    try {
      const data = Buffer.alloc(Math.min(ovfMember.size, MAX_OVF_BYTES));
      await handle.read(data, 0, data.length, ovfMember.offset);
      ovf = data.toString('utf8');
    } finally {
      await handle.close();
    }
  }
  const disk = chooseOvaDisk(members, ovf);
  if (disk.size === 0) throw new ImportError({ reason: 'NotADiskImage', message: `the OVA's disk ${disk.name} is empty` });
  await pipeline(createReadStream(archive, { start: disk.offset, end: disk.offset + disk.size - 1, highWaterMark: 1024 * 1024 }), createWriteStream(dest));
  return disk;
}
