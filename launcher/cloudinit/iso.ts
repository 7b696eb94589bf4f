// Writes the NoCloud files as an ISO9660 volume labelled `cidata`, the label cloud-init's
// NoCloud source looks for. xorriso builds it; Joliet and Rock Ridge keep the file names
// (meta-data, user-data) intact, which plain ISO9660 would mangle to META_DAT.
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PROGRAMS } from '../programs.js';
import { CidataBuildError, MissingProgramError } from './errors.js';
import type { NocloudFiles } from './nocloud.js';

/** The volume label cloud-init's NoCloud data source matches. */
export const CIDATA_LABEL = 'cidata';

/** How to install the ISO tool, for the error message when it is missing. */
export const XORRISO_INSTALL = 'apt-get install xorriso';

/** Options of {@link writeCidataIso}. */
export interface WriteCidataOptions {
  /** The xorriso binary; defaults to `xorriso` on PATH. */
  xorriso?: string;
}

/** Runs a program to completion; rejects with the typed errors above. */
function run(program: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new MissingProgramError(program, XORRISO_INSTALL, { cause: err }) : err);
    });
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new CidataBuildError(`${program} exited with ${signal ?? `code ${code}`}`, stderr.trim()));
    });
  });
}

/** mkisofs-style arguments for a small, read-only config volume. */
export function xorrisoArgs(sourceDir: string, output: string): string[] {
  return ['-as', 'mkisofs', '-quiet', '-output', output, '-volid', CIDATA_LABEL, '-joliet', '-rock', sourceDir];
}

/**
 * Writes `files` as a cidata ISO at `outPath`. The ISO is built in a staging directory beside
 * `outPath` and renamed into place, so a crash never leaves a half-written ISO that QEMU could
 * boot with. The result is readable by its owner only: user-data often holds secrets.
 */
export async function writeCidataIso(files: NocloudFiles, outPath: string, options: WriteCidataOptions = {}): Promise<void> {
  const staging = await mkdtemp(join(dirname(outPath), '.cidata-'));
  try {
    const source = join(staging, 'files');
    await mkdir(source, { mode: 0o700 });
    for (const [name, content] of Object.entries(files)) {
      if (content !== undefined) await writeFile(join(source, name), content, { mode: 0o600 });
    }
    const iso = join(staging, 'cidata.iso');
    await run(options.xorriso ?? PROGRAMS.xorriso, xorrisoArgs(source, iso));
    await chmod(iso, 0o600);
    await rename(iso, outPath);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
