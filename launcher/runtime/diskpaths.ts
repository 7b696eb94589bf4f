// Where each disk's bytes are, decided by the caller of prepareDisks: in a launcher pod the
// operator's volume layout (api/layout.ts) says it; in `kubevmm play` the user says it with
// `--disk NAME=PATH`.

import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { LAYOUT } from '../../api/layout.js';
import type { LauncherVm } from '../../api/resolve.js';
import { LauncherError } from './errors.js';

/** Disk paths and cloud-init Secret directories, by disk name. */
export interface DiskLocations {
  paths: Record<string, string>;
  secretDirs: Record<string, string>;
  /**
   * containerDisks mounted from an image volume (their path is the read-only image), with where
   * a writable one's qcow2 overlay goes.
   */
  mounted?: Record<string, { overlay?: string }>;
}

async function isBlockDevice(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isBlockDevice();
  } catch {
    return false;
  }
}

/**
 * A containerDisk's image: from its image volume when one is mounted (with where a writable
 * disk's overlay goes), else from the copy. The operator's containerDiskDelivery decided the
 * volumes; what is there says which.
 */
async function locateContainerDisk(out: DiskLocations, disk: LauncherVm['disks'][number], findImage: typeof containerDiskImage, mount: string): Promise<void> {
  if (!(await isDirectory(mount))) {
    out.paths[disk.name] = await findImage(disk.name, LAYOUT.containerDiskCopy(disk.name));
    return;
  }
  out.paths[disk.name] = await mountedContainerDiskImage(disk.name, mount, disk.spec.containerDisk?.path ?? '/disk');
  (out.mounted ??= {})[disk.name] = disk.readOnly ? {} : { overlay: join(LAYOUT.diskDir(disk.name), LAYOUT.containerDiskOverlay) };
}

/**
 * Disk locations inside a launcher pod. A PVC (or an image disk's claim) is a block device when the operator rendered
 * it as one (volumeDevices), else a disk.img in its mount; the launcher cannot read the PVC's
 * volumeMode, so it looks at what is there.
 */
export async function podDiskLocations(vm: LauncherVm, blockDevice = isBlockDevice, findImage = containerDiskImage, mountRoot = LAYOUT.containerDiskMount): Promise<DiskLocations> {
  const out: DiskLocations = { paths: {}, secretDirs: {}, mounted: {} };
  for (const disk of vm.disks.filter((d) => !d.hotpluggable)) {
    if (disk.source === 'cloudInit') {
      if (disk.spec.cloudInit?.userDataSecretRef) out.secretDirs[disk.name] = LAYOUT.cloudInitSecretDir(disk.name);
      continue;
    }
    if (disk.source === 'containerDisk') {
      await locateContainerDisk(out, disk, findImage, mountRoot(disk.name));
      continue;
    }
    const device = LAYOUT.blockDevice(disk.name);
    const image = `${LAYOUT.diskDir(disk.name)}/${LAYOUT.diskImage}`;
    // An image disk is a claim too (the VM's own copy of the image), rendered like a PVC.
    const claim = disk.source === 'persistentVolumeClaim' || disk.source === 'image';
    out.paths[disk.name] = claim && (await blockDevice(device)) ? device : image;
  }
  return out;
}

/**
 * The image in a containerDisk copy: the copy itself when `path` named a file, else the one
 * regular file in it. Symbolic links are not followed (the copy dereferenced the image's own,
 * inside its container); anything else is refused with what was found.
 */
export async function containerDiskImage(disk: string, copy: string): Promise<string> {
  const fail = (message: string) => new LauncherError({ reason: 'ContainerDiskInvalid', kind: 'invalid', message: `disk ${disk}: ${message}` });
  const info = await lstat(copy).catch(() => undefined);
  if (!info) throw fail(`the containerDisk was not copied to ${copy}`);
  if (info.isFile()) return copy;
  if (!info.isDirectory()) throw fail(`${copy} is neither a file nor a directory`);
  const entries = await readdir(copy, { withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => e.name).sort();
  if (files.length === 1) return join(copy, files[0]!);
  const found = files.length ? `${files.length} files (${files.slice(0, 5).join(', ')})` : 'no regular file';
  throw fail(`the containerDisk's path holds ${found}; it must hold exactly one disk image (set containerDisk.path to the directory or the file)`);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `path` (resolved) is `root` or below it. */
function within(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The image file of a containerDisk mounted as an image volume at `mount`: `path` inside it,
 * the file itself or the one regular file in that directory. The image is the user's choice and
 * may hold symbolic links: each is resolved here and must stay inside the image, so a link to
 * /var/run/kubevmm/control/tls.key (the launcher's own key, in this mount namespace) is refused,
 * never handed to QEMU. The mount is read-only and its content immutable, so what is checked is
 * what QEMU opens.
 */
export async function mountedContainerDiskImage(disk: string, mount: string, path: string): Promise<string> {
  const fail = (message: string) => new LauncherError({ reason: 'ContainerDiskInvalid', kind: 'invalid', message: `disk ${disk}: ${message}` });
  const root = await realpath(mount);
  const resolveInside = async (p: string, shown: string): Promise<string> => {
    const target = await realpath(p).catch(() => undefined);
    if (target === undefined) throw fail(`the containerDisk image has nothing at ${shown} (set containerDisk.path to where the disk image is)`);
    if (!within(root, target)) throw fail(`${shown} in the containerDisk image is a symbolic link out of the image; only files inside the image are opened`);
    return target;
  };
  const target = await resolveInside(join(root, path), path);
  const info = await stat(target);
  if (info.isFile()) return target;
  if (!info.isDirectory()) throw fail(`${path} in the containerDisk image is neither a file nor a directory`);
  const files: string[] = [];
  for (const entry of (await readdir(target, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const file = await resolveInside(join(target, entry.name), join(path, entry.name));
    if ((await stat(file)).isFile()) files.push(file);
  }
  if (files.length === 1) return files[0]!;
  const found = files.length ? `${files.length} files` : 'no regular file';
  throw fail(`${path} in the containerDisk image holds ${found}; it must hold exactly one disk image (set containerDisk.path to the directory or the file)`);
}

/**
 * Parse `FLAG NAME=VALUE` values: the name is what comes before the first `=`; `parse` turns
 * the rest into a value or refuses it (undefined). A malformed or repeated one is an error.
 */
function parseNamed<T>(flag: string, values: readonly string[], usage: string, parse: (raw: string) => T | undefined): Record<string, T> {
  const out: Record<string, T> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    const parsed = at > 0 ? parse(value.slice(at + 1)) : undefined;
    if (parsed === undefined) throw new LauncherError({ reason: 'InvalidArgument', kind: 'invalid', message: `${flag} ${value}: ${usage}` });
    const name = value.slice(0, at);
    if (out[name] !== undefined) throw new LauncherError({ reason: 'InvalidArgument', kind: 'invalid', message: `${flag} ${name} is given twice` });
    out[name] = parsed;
  }
  return out;
}

/** Parse `--disk NAME=PATH` values (paths made absolute); a malformed or repeated one is an error. */
export function parseDiskMappings(values: readonly string[], cwd = process.cwd()): Record<string, string> {
  return parseNamed('--disk', values, 'expected NAME=PATH, e.g. --disk root=./root.qcow2', (raw) => (raw === '' ? undefined : resolve(cwd, raw)));
}

/** Mappings that name no disk of the VM are mistakes (a typo would silently leave a disk unmapped). */
export function unknownDiskMappings(vm: LauncherVm, paths: Readonly<Record<string, string>>): string[] {
  const names = new Set(vm.disks.map((d) => d.name));
  return Object.keys(paths).filter((n) => !names.has(n));
}

/** Parse `--disk-size NAME=BYTES` values (whole bytes); a malformed or repeated one is an error. */
export function parseDiskSizes(values: readonly string[]): Record<string, number> {
  const usage = 'expected NAME=BYTES with whole bytes above 0, e.g. --disk-size data=1073741824';
  return parseNamed('--disk-size', values, usage, (raw) => (/^\d{1,16}$/.test(raw) && Number(raw) > 0 ? Number(raw) : undefined));
}
