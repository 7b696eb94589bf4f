// Turns the VM's disks into the backings QEMU is planned with: which local file or device
// holds each disk, in which format, read through which driver. Every problem a disk can have
// (no mapping, no file, not writable) is found here, before QEMU starts, and named with the
// disk and the fix; QEMU's own error for the same problem is one stderr line about a node.

import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { promisify } from 'node:util';
import { access, copyFile, mkdir, open, rename, stat, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LauncherVm, ResolvedDisk } from '../../api/resolve.js';
import { parseQuantity } from '../../api/quantity.js';
import type { DiskBacking } from '../qemu/types.js';
import { OVMF_CODE, OVMF_VARS_TEMPLATE } from '../qemu/firmware.js';
import { PROGRAMS } from '../programs.js';
import { buildCidata } from './cidata.js';
import { DiskError, LauncherError, describeError } from './errors.js';

const execFileAsync = promisify(execFile);

/** The first four bytes of every qcow2 image. */
const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]); // "QFI\xfb"

/** Image format from an image's first bytes (pure). */
export function formatFromMagic(head: Buffer): DiskBacking['format'] {
  return head.subarray(0, 4).equals(QCOW2_MAGIC) ? 'qcow2' : 'raw';
}

/** How much of an image's start {@link qcow2Reference} reads: the qcow2 v3 header. */
export const IMAGE_HEAD_BYTES = 104;

/**
 * What other file a qcow2 header makes QEMU open: a backing file, or an external data file
 * (incompatible feature bit 2 of a version 3 header); undefined for a self-contained image or
 * one that is not qcow2 (pure). A guest can write a qcow2 header onto its own raw disk, and
 * a header naming /var/run/kubevmm/control/tls.key would hand it that file at its next start:
 * so such images are refused, never opened.
 */
export function qcow2Reference(head: Buffer): string | undefined {
  if (formatFromMagic(head) !== 'qcow2') return undefined;
  if (head.length < 72) return 'a truncated qcow2 header';
  if (head.readBigUInt64BE(8) !== 0n) return 'a backing file';
  const version = head.readUInt32BE(4);
  if (version >= 3 && head.length >= 80 && (head.readBigUInt64BE(72) & 4n) !== 0n) return 'an external data file';
  return undefined;
}

/**
 * Format and driver of an existing image file or block device. Throws a DiskError naming
 * the disk when the path is missing, unreadable, or neither a file nor a block device.
 */
export async function inspectDisk(disk: string, path: string): Promise<DiskBacking> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new DiskError({ disk, reason: 'DiskNotFound', kind: 'invalid', message: `disk ${disk}: ${path} does not exist; give an existing image file or block device for it`, cause: err });
  }
  if (!info.isFile() && !info.isBlockDevice()) {
    throw new DiskError({ disk, reason: 'DiskInvalid', kind: 'invalid', message: `disk ${disk}: ${path} is neither an image file nor a block device` });
  }
  let head: Buffer;
  try {
    head = await readImageHead(path);
  } catch (err) {
    throw new DiskError({ disk, reason: 'DiskUnreadable', kind: 'invalid', message: `disk ${disk}: cannot read ${path}: ${describeError(err)}`, cause: err });
  }
  const reference = qcow2Reference(head);
  if (reference) {
    throw new DiskError({
      disk,
      reason: 'DiskNotSelfContained',
      kind: 'invalid',
      message: `disk ${disk}: ${path} is a qcow2 image that names ${reference}; only self-contained images are opened (flatten it with qemu-img convert -O qcow2, or -O raw)`,
    });
  }
  return { path, format: formatFromMagic(head), driver: info.isBlockDevice() ? 'host_device' : 'file' };
}

/** A writable disk must be writable by us (QEMU runs as the same user); DiskError otherwise. */
export async function requireWritable(disk: string, path: string): Promise<void> {
  try {
    await access(path, constants.W_OK);
  } catch (err) {
    throw new DiskError({
      disk,
      reason: 'DiskNotWritable',
      kind: 'invalid',
      message: `disk ${disk}: ${path} is not writable; fix its permissions or mark the disk readOnly: true`,
      cause: err,
    });
  }
}

/**
 * An image disk's claim holds the image at its own virtual size; the VM asked for a claim of
 * `bytes` (image.size): a raw disk.img smaller than that is extended, sparse, so the guest sees
 * the size it asked for (its partitions stay as they are; cloud-init's growpart uses the rest).
 * Never shrunk, and never a qcow2 (appending to one would not grow it) or a block device.
 */
export async function growRawImage(backing: DiskBacking, bytes: number): Promise<void> {
  if (backing.format !== 'raw' || backing.driver !== 'file') return;
  if ((await stat(backing.path)).size < bytes) await truncate(backing.path, bytes);
}

/**
 * Create a sparse image of `bytes` for an emptyDisk when none exists. An existing image is
 * kept as it is: it holds the guest's data from before a launcher restart.
 */
export async function ensureEmptyDisk(path: string, bytes: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  let handle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  try {
    await handle.truncate(bytes);
  } finally {
    await handle.close();
  }
}

/**
 * A sparse image of `bytes`, written under a temporary name and renamed into place, so a
 * crash leaves either no image or a whole one (a leftover temporary file is reused). For
 * images on persistent claims; an emptyDisk in the pod's runtime directory needs none of it.
 */
export async function createSparseImage(path: string, bytes: number, mode = 0o660): Promise<void> {
  const partial = `${path}.partial`;
  const handle = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode);
  try {
    await handle.truncate(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, path);
  const dir = await open(dirname(path), constants.O_RDONLY);
  await dir.sync().finally(() => dir.close());
}

/** Whether anything is at `path` (only a missing path is false; other errors are thrown). */
async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** The first IMAGE_HEAD_BYTES of an image file or device: enough for its format and qcow2 header. */
export async function readImageHead(path: string): Promise<Buffer> {
  const head = Buffer.alloc(IMAGE_HEAD_BYTES);
  const handle = await open(path, constants.O_RDONLY);
  try {
    await handle.read(head, 0, IMAGE_HEAD_BYTES, 0);
  } finally {
    await handle.close();
  }
  return head;
}

/** Copy the EFI variable store template into the runtime dir once; the copy holds the VM's boot entries. */
export async function ensureEfiVars(template: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  try {
    await copyFile(template, target, constants.COPYFILE_EXCL);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT') throw err;
    throw new LauncherError({ reason: 'FirmwareNotFound', message: `firmware efi needs the OVMF variable store ${template}; install the ovmf package`, cause: err });
  }
}

/** Options of {@link prepareDisks}. */
export interface PrepareDisksOptions {
  vm: LauncherVm;
  /** Disk name -> local image file or block device. The caller decides (pod layout or --disk). */
  paths: Readonly<Record<string, string>>;
  /** Writable directory for the cidata ISO, EFI vars and unmapped emptyDisks. */
  runtimeDir: string;
  /** Disk name -> directory holding a cloud-init Secret's keys (userDataSecretRef). */
  secretDirs?: Readonly<Record<string, string>>;
  /** OVMF firmware files for efi; defaults to Debian's 4 MiB build. */
  ovmf?: { code: string; varsTemplate: string };
  /**
   * Disk name -> bytes of a blank Filesystem PVC's disk.img, created sparse when the claim
   * holds none (a new claim); an existing image is never resized (`--disk-size`).
   */
  blankSizes?: Readonly<Record<string, number>>;
  /**
   * containerDisks whose path is a read-only image in an image volume; a writable one gets a
   * qcow2 overlay at `overlay` (podDiskLocations).
   */
  mounted?: Readonly<Record<string, { overlay?: string }>>;
  /** Creates an empty qcow2 overlay; qemu-img by default (tests may swap it). */
  createOverlay?: (path: string, virtualBytes: number) => Promise<void>;
}

/** Backings of every cold-plugged disk, plus the firmware files when the VM boots EFI. */
export interface PreparedDisks {
  backings: Record<string, DiskBacking>;
  firmware?: { code: string; vars: string };
}

function notMapped(disk: ResolvedDisk): DiskError {
  const source = disk.spec.persistentVolumeClaim
    ? `persistentVolumeClaim ${disk.spec.persistentVolumeClaim.claimName}`
    : disk.spec.image
      ? `image ${disk.spec.image.name}`
      : `containerDisk ${disk.spec.containerDisk?.image ?? ''}`;
  return new DiskError({
    disk: disk.name,
    reason: 'DiskNotMapped',
    message: `disk ${disk.name} (${source}) has no local image; map it to an image file with --disk ${disk.name}=PATH`,
  });
}

/**
 * The size the guest sees of an image: a qcow2 header's (bytes 24-31), else the file's size.
 * Pure; `head` is the image's first bytes.
 */
export function virtualSize(head: Buffer, fileBytes: number): number {
  return formatFromMagic(head) === 'qcow2' ? Number(head.readBigUInt64BE(24)) : fileBytes;
}

/** An empty qcow2 image of `virtualBytes` at `path`, made under a temporary name and renamed into place. */
export async function createQcow2Overlay(path: string, virtualBytes: number, qemuImg: string = PROGRAMS.qemuImg): Promise<void> {
  const partial = `${path}.partial`;
  await mkdir(dirname(path), { recursive: true });
  // No backing file in the header: QEMU is given the base as a node (blockdev.ts diskNodes).
  await execFileAsync(qemuImg, ['create', '-q', '-f', 'qcow2', '--', partial, String(virtualBytes)]).catch((err: unknown) => {
    throw new LauncherError({ reason: 'OverlayFailed', message: `cannot create the overlay ${path}: ${describeError(err)}`, cause: err });
  });
  await rename(partial, path);
}

/**
 * A writable containerDisk from an image volume: the read-only image as the base of a qcow2
 * overlay in the pod, created once (a launcher restarted in the same pod keeps the guest's
 * writes), which QEMU writes instead of the image.
 */
async function overlayBacking(disk: ResolvedDisk, image: string, overlay: string, options: PrepareDisksOptions): Promise<DiskBacking> {
  const base = await inspectDisk(disk.name, image);
  if (!(await exists(overlay))) {
    const size = virtualSize(await readImageHead(image), (await stat(image)).size);
    await (options.createOverlay ?? createQcow2Overlay)(overlay, size);
  }
  const top = await inspectDisk(disk.name, overlay);
  if (top.format !== 'qcow2') throw new DiskError({ disk: disk.name, reason: 'DiskInvalid', kind: 'invalid', message: `disk ${disk.name}: the overlay ${overlay} is not a qcow2 image` });
  return { ...top, base: { path: base.path, format: base.format } };
}

/** A blank claim: its disk.img is made whole or not at all (a crash must not leave an empty file that later starts accept). */
async function ensureBlankClaimImage(disk: ResolvedDisk, path: string, options: PrepareDisksOptions): Promise<void> {
  const blank = options.blankSizes?.[disk.name];
  if (disk.source !== 'persistentVolumeClaim' || blank === undefined || disk.readOnly || (await exists(path))) return;
  await createSparseImage(path, blank, 0o600);
}

/** A containerDisk from an image volume: its overlay when writable, else the shared image itself. */
async function mountedBacking(disk: ResolvedDisk, image: string, mounted: { overlay?: string }, options: PrepareDisksOptions): Promise<DiskBacking> {
  return mounted.overlay ? overlayBacking(disk, image, mounted.overlay, options) : { ...(await inspectDisk(disk.name, image)), shared: true };
}

async function prepareOne(disk: ResolvedDisk, options: PrepareDisksOptions): Promise<DiskBacking> {
  const mounted = options.mounted?.[disk.name];
  if (mounted && options.paths[disk.name] !== undefined) return mountedBacking(disk, options.paths[disk.name]!, mounted, options);
  if (disk.source === 'cloudInit') return buildCidata({ vm: options.vm, disk, runtimeDir: options.runtimeDir, secretDir: options.secretDirs?.[disk.name] });
  let path = options.paths[disk.name];
  if (disk.source === 'emptyDisk') {
    path ??= join(options.runtimeDir, 'disks', disk.name, 'disk.img');
    await ensureEmptyDisk(path, parseQuantity(disk.spec.emptyDisk?.capacity ?? 0));
  }
  if (path === undefined) throw notMapped(disk);
  await ensureBlankClaimImage(disk, path, options);
  return openExisting(disk, path, options.blankSizes?.[disk.name]);
}

/** An image file or device that is there: inspected, writable if it must be, an image disk grown. */
async function openExisting(disk: ResolvedDisk, path: string, blank: number | undefined): Promise<DiskBacking> {
  const backing = await inspectDisk(disk.name, path);
  if (disk.readOnly) return backing;
  await requireWritable(disk.name, path);
  if (disk.source === 'image' && blank !== undefined) await growRawImage(backing, blank);
  return backing;
}

/**
 * Prepare every disk that is attached at start (hotpluggable disks are attached later) and
 * the EFI vars. Throws the first DiskError; nothing has started yet when it does.
 */
export async function prepareDisks(options: PrepareDisksOptions): Promise<PreparedDisks> {
  const backings: Record<string, DiskBacking> = {};
  for (const disk of options.vm.disks.filter((d) => !d.hotpluggable)) {
    backings[disk.name] = await prepareOne(disk, options);
  }
  if (options.vm.firmware !== 'efi') return { backings };
  const ovmf = options.ovmf ?? { code: OVMF_CODE, varsTemplate: OVMF_VARS_TEMPLATE };
  const vars = join(options.runtimeDir, 'efi-vars.fd');
  await ensureEfiVars(ovmf.varsTemplate, vars);
  return { backings, firmware: { code: ovmf.code, vars } };
}
