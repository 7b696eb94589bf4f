/**
 * Files laid out the way the kubelet updates a Secret volume: each version in a directory of
 * its own, a `..data` symlink swapped atomically to the new one, and every file a symlink
 * through `..data`. For tests of code that must follow a renewed certificate.
 */
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Publishes `files` (name to contents) as version `version` of the volume at `dir`. */
export async function writeSecretVolume(dir: string, version: string, files: Readonly<Record<string, string>>): Promise<void> {
  const data = join(dir, `..${version}`);
  await mkdir(data);
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(data, name), text)));
  const next = join(dir, '..data_tmp');
  await symlink(`..${version}`, next);
  await rename(next, join(dir, '..data'));
  // The per-file links exist from the first version on; later versions only swap ..data.
  await Promise.all(Object.keys(files).map((name) => symlink(join('..data', name), join(dir, name)).catch(() => undefined)));
}
