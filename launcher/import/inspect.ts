// What the source is, as qemu-img sees it once the file is local, and whether to import it.
// Refused: anything but qcow2, vmdk and raw; a raw file that is not a disk (sniff.ts); images
// that point at other files (a backing file, a qcow2 external data file, a VMDK extent
// elsewhere): converting those would read whatever the pod can read (the target device, the
// credentials) into the image. And an image larger than the claim, before anything is written.

import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { PROGRAMS } from '../programs.js';
import { ImportError } from './errors.js';
import { describeContent, rawDiskKind, SNIFF_BYTES } from './sniff.js';

const exec = promisify(execFile);

/** The parts of `qemu-img info --output=json` the decision needs. */
export interface ImageInfo {
  format: string;
  virtualSize: number;
  backing?: string;
  dataFile?: string;
  /** VMDK extent files. */
  extents?: string[];
  encrypted?: boolean;
  corrupt?: boolean;
}

/** Formats imported; the key is qemu-img's name. */
const ACCEPTED = new Set(['raw', 'qcow2', 'vmdk']);

/** `qemu-img info --output=json` as an ImageInfo. */
export function parseImageInfo(json: unknown): ImageInfo {
  const info = json as Record<string, unknown>;
  const specific = ((info['format-specific'] as { data?: Record<string, unknown> } | undefined)?.data ?? {}) as Record<string, unknown>;
  const extents = Array.isArray(specific.extents) ? (specific.extents as { filename?: unknown }[]).map((e) => String(e.filename ?? '')) : undefined;
  const backing = info['backing-filename'] ?? info['full-backing-filename'];
  return {
    format: String(info.format ?? 'unknown'),
    virtualSize: Number(info['virtual-size'] ?? 0),
    ...(typeof backing === 'string' ? { backing } : {}),
    ...(typeof specific['data-file'] === 'string' ? { dataFile: specific['data-file'] } : {}),
    ...(extents ? { extents } : {}),
    ...(info.encrypted === true ? { encrypted: true } : {}),
    ...(specific.corrupt === true ? { corrupt: true } : {}),
  };
}

/**
 * Refusals readable from the first bytes, before qemu-img opens the file (it would open the
 * files such an image names): a qcow2 header with a backing file or an external data file,
 * and a text VMDK descriptor (whose extents are always other files).
 */
export function headerRefusal(head: Uint8Array): ImportError | undefined {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buf.length >= 80 && buf.readUInt32BE(0) === 0x514649fb) {
    if (buf.readBigUInt64BE(8) !== 0n) return new ImportError({ reason: 'UnsupportedFormat', message: 'the qcow2 image has a backing file; flatten it first (qemu-img convert -O qcow2 in.qcow2 out.qcow2)' });
    if (buf.readUInt32BE(4) >= 3 && (buf.readBigUInt64BE(72) & 4n) !== 0n) return new ImportError({ reason: 'UnsupportedFormat', message: 'the qcow2 image keeps its data in an external data file; convert it to a self-contained image first' });
  }
  if (buf.subarray(0, 21).toString('latin1') === '# Disk DescriptorFile') {
    return new ImportError({ reason: 'UnsupportedFormat', message: 'the file is a VMDK descriptor whose data is in other files; export a single-file VMDK (monolithicSparse or streamOptimized) or an OVA' });
  }
  return undefined;
}

/** What the import goes ahead with. */
export interface ImageVerdict {
  /** qemu-img's format, given to convert with -f so nothing is probed twice. */
  qemuFormat: 'raw' | 'qcow2' | 'vmdk';
  /** The format reported in status: iso for a raw ISO 9660 image. */
  format: string;
  virtualSizeBytes: number;
}

/** Options of {@link judgeImage}. */
export interface JudgeOptions {
  /** The file as qemu-img was given it, to recognise a VMDK's own extent. */
  file: string;
  /** The file's first SNIFF_BYTES. */
  head: Uint8Array;
  capacityBytes: number;
  /** Skip the "is it a disk at all" check for raw (a copy of a block device may be blank). */
  anyRaw?: boolean;
}

const MiB = 1024 * 1024;

/** Whether to import the image qemu-img described, and as what; throws the refusal. Pure. */
export function judgeImage(info: ImageInfo, options: JudgeOptions): ImageVerdict {
  if (!ACCEPTED.has(info.format)) throw new ImportError({ reason: 'UnsupportedFormat', message: `the image is ${info.format}; kubevmm imports qcow2, vmdk and raw (and iso): convert it with qemu-img convert -O qcow2` });
  if (info.encrypted) throw new ImportError({ reason: 'UnsupportedFormat', message: `the ${info.format} image is encrypted; decrypt it first` });
  if (info.corrupt) throw new ImportError({ reason: 'NotADiskImage', message: `the ${info.format} image is marked corrupt; repair it with qemu-img check -r all` });
  if (info.backing) throw new ImportError({ reason: 'UnsupportedFormat', message: `the ${info.format} image has a backing file (${info.backing}); flatten it first` });
  if (info.dataFile) throw new ImportError({ reason: 'UnsupportedFormat', message: `the ${info.format} image keeps its data in an external file (${info.dataFile}); convert it to a self-contained image first` });
  const foreign = (info.extents ?? []).filter((e) => basename(e) !== basename(options.file));
  if (foreign.length) throw new ImportError({ reason: 'UnsupportedFormat', message: `the VMDK's data is in other files (${foreign.map((f) => basename(f)).join(', ')}); export a single-file VMDK or an OVA` });
  if (!Number.isSafeInteger(info.virtualSize) || info.virtualSize <= 0) throw new ImportError({ reason: 'NotADiskImage', message: `the ${info.format} image has no size` });
  let format = info.format;
  if (format === 'raw' && !options.anyRaw) {
    const kind = rawDiskKind(options.head);
    if (!kind) throw new ImportError({ reason: 'NotADiskImage', message: `the file is not a disk image: it is ${describeContent(options.head)}` });
    format = kind;
  }
  if (info.virtualSize > options.capacityBytes) {
    const need = Math.ceil(info.virtualSize / MiB);
    throw new ImportError({ reason: 'ClaimTooSmall', message: `the image's virtual size is ${info.virtualSize} bytes (${need}Mi) but the claim holds ${options.capacityBytes} bytes; set spec.storage.size to at least ${need}Mi` });
  }
  return { qemuFormat: info.format as ImageVerdict['qemuFormat'], format, virtualSizeBytes: info.virtualSize };
}

/** The first SNIFF_BYTES of a file (fewer when it is shorter). */
export async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Bounds on qemu-img info, which parses untrusted headers. */
const INFO_TIMEOUT_MS = 60_000;

/** Run `qemu-img info` on the file (probing its format); its JSON as an ImageInfo. */
export async function imageInfo(path: string, qemuImg: string = PROGRAMS.qemuImg): Promise<ImageInfo> {
  try {
    const { stdout } = await exec(qemuImg, ['info', '--output=json', path], { timeout: INFO_TIMEOUT_MS, maxBuffer: 4 * MiB });
    return parseImageInfo(JSON.parse(stdout));
  } catch (err) {
    const e = err as { stderr?: string; code?: string | number; killed?: boolean };
    if (e.code === 'ENOENT') throw new ImportError({ reason: 'ImportFailed', message: `${qemuImg} is missing: the launcher image installs it (qemu-utils)`, cause: err });
    if (e.killed) throw new ImportError({ reason: 'NotADiskImage', message: `qemu-img took over ${INFO_TIMEOUT_MS / 1000} s to read the image's header`, cause: err });
    throw new ImportError({ reason: 'NotADiskImage', message: `qemu-img cannot read the file: ${(e.stderr ?? String(err)).trim().split('\n').pop()}`, cause: err });
  }
}
