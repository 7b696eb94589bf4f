// The cloudInit disk: NoCloud files from the inline spec or a mounted Secret, written as a
// `cidata` ISO into the runtime directory. Rebuilt on every start, so an edited Secret takes
// effect at the next boot and nothing stale survives in the pod.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LauncherVm, ResolvedDisk } from '../../api/resolve.js';
import { nocloudFiles, writeCidataIso } from '../cloudinit/index.js';
import type { DiskBacking } from '../qemu/index.js';
import { DiskError, describeError } from './errors.js';

/** Cloud-init data read from a Secret. */
export interface CloudInitSecret {
  userData?: string;
  networkData?: string;
}

/** Secret keys accepted for each field, in order of preference (KubeVirt's spelling first). */
const SECRET_KEYS = { userData: ['userdata', 'userData'], networkData: ['networkdata', 'networkData'] } as const;

async function readFirst(dir: string, names: readonly string[]): Promise<string | undefined> {
  for (const name of names) {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return undefined;
}

/** Read user and network data from a mounted Secret; a Secret without user data is an error. */
export async function readCloudInitSecret(disk: string, dir: string): Promise<CloudInitSecret> {
  let userData: string | undefined;
  let networkData: string | undefined;
  try {
    userData = await readFirst(dir, SECRET_KEYS.userData);
    networkData = await readFirst(dir, SECRET_KEYS.networkData);
  } catch (err) {
    throw new DiskError({ disk, reason: 'CloudInitSecretUnreadable', message: `disk ${disk}: cannot read the cloud-init secret in ${dir}: ${describeError(err)}`, cause: err });
  }
  if (userData === undefined) {
    throw new DiskError({
      disk,
      reason: 'CloudInitSecretInvalid',
      message: `disk ${disk}: the userDataSecretRef secret (mounted at ${dir}) has no key userdata or userData; add one`,
    });
  }
  return { userData, ...(networkData !== undefined ? { networkData } : {}) };
}

/** What {@link buildCidata} needs. */
export interface BuildCidataOptions {
  vm: LauncherVm;
  disk: ResolvedDisk;
  runtimeDir: string;
  /** Where the Secret is mounted, for userDataSecretRef disks. */
  secretDir?: string;
}

/** Write the cidata ISO for a cloudInit disk and return its backing. */
export async function buildCidata({ vm, disk, runtimeDir, secretDir }: BuildCidataOptions): Promise<DiskBacking> {
  let secret: CloudInitSecret | undefined;
  if (disk.spec.cloudInit?.userDataSecretRef) {
    if (!secretDir) {
      throw new DiskError({
        disk: disk.name,
        reason: 'DiskNotMapped',
        message: `disk ${disk.name} takes user data from secret ${disk.spec.cloudInit.userDataSecretRef.name}, but no directory with its keys was given`,
      });
    }
    secret = await readCloudInitSecret(disk.name, secretDir);
  }
  const path = join(runtimeDir, `cidata-${disk.name}.iso`);
  try {
    await writeCidataIso(nocloudFiles(vm, disk, secret), path);
  } catch (err) {
    const reason = (err as { reason?: string }).reason ?? 'CloudInitFailed';
    throw new DiskError({ disk: disk.name, reason, message: `disk ${disk.name}: writing the cidata ISO failed: ${describeError(err)}`, cause: err });
  }
  return { path, format: 'raw', driver: 'file' };
}
