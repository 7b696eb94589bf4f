// Writes the NoCloud files as an ISO 9660 volume labelled `cidata`, the label cloud-init's
// NoCloud source looks for, with a Joliet tree that keeps the file names (meta-data,
// user-data) intact, which plain ISO 9660 would mangle to META_DAT. Built in-process
// (iso9660.ts): no external tool, and no ~100 ms spent spawning one at every VM start.
import { chmod, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildIso9660 } from './iso9660.js';
import type { NocloudFiles } from './nocloud.js';

/** The volume label cloud-init's NoCloud data source matches. */
export const CIDATA_LABEL = 'cidata';

/**
 * Writes `files` as a cidata ISO at `outPath`. The ISO is written beside `outPath` and renamed
 * into place, so a crash never leaves a half-written ISO that QEMU could boot with. The result
 * is readable by its owner only: user-data often holds secrets.
 */
export async function writeCidataIso(files: NocloudFiles, outPath: string): Promise<void> {
  const present = Object.fromEntries(Object.entries(files).filter((e): e is [string, string] => e[1] !== undefined));
  const staging = await mkdtemp(join(dirname(outPath), '.cidata-'));
  try {
    const iso = join(staging, 'cidata.iso');
    await writeFile(iso, buildIso9660(present, CIDATA_LABEL), { mode: 0o600 });
    await chmod(iso, 0o600);
    await rename(iso, outPath);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
