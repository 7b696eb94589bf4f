// Where each disk's bytes are, decided by the caller of prepareDisks: in a launcher pod the
// operator's volume layout (api/layout.ts) says it; in `kubevmm play` the user says it with
// `--disk NAME=PATH`.

import { lstat, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LAYOUT } from '../../api/layout.js';
import type { LauncherVm } from '../../api/resolve.js';
import { LauncherError } from './errors.js';

/** Disk paths and cloud-init Secret directories, by disk name. */
export interface DiskLocations {
  paths: Record<string, string>;
  secretDirs: Record<string, string>;
}

async function isBlockDevice(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isBlockDevice();
  } catch {
    return false;
  }
}

/**
 * Disk locations inside a launcher pod. A PVC (or an image disk's claim) is a block device when the operator rendered
 * it as one (volumeDevices), else a disk.img in its mount; the launcher cannot read the PVC's
 * volumeMode, so it looks at what is there.
 */
export async function podDiskLocations(vm: LauncherVm, blockDevice = isBlockDevice, findImage = containerDiskImage): Promise<DiskLocations> {
  const out: DiskLocations = { paths: {}, secretDirs: {} };
  for (const disk of vm.disks.filter((d) => !d.hotpluggable)) {
    if (disk.source === 'cloudInit') {
      if (disk.spec.cloudInit?.userDataSecretRef) out.secretDirs[disk.name] = LAYOUT.cloudInitSecretDir(disk.name);
      continue;
    }
    if (disk.source === 'containerDisk') {
      out.paths[disk.name] = await findImage(disk.name, LAYOUT.containerDiskCopy(disk.name));
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
