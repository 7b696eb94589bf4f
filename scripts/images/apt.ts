// Package versions as apt resolves them on this machine: what a minbase bootstrap plus the given
// packages (without recommends) would install, from this machine's package lists. That set is
// part of each rootfs key, so a security update that apt sees rebuilds the image, and nothing
// else does.

import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { keyOf, writeAtomic } from './cache.js';

const exec = promisify(execFile);

/**
 * What every minbase bootstrap holds: Essential packages, Priority: required, apt (mmdebstrap's
 * minbase), and usr-is-merged, which the merged-/usr hooks install (rootfs.ts).
 */
export const MINBASE = ['?essential', '?priority(required)', 'apt', 'usr-is-merged'] as const;

/**
 * A fingerprint of apt's view: the package lists and apt's configuration (path, size, mtime).
 * `apt-get update` or a changed source or pin changes it.
 */
export async function aptFingerprint(): Promise<string> {
  const files: string[] = [];
  for (const dir of ['/var/lib/apt/lists', '/etc/apt', '/etc/apt/sources.list.d', '/etc/apt/preferences.d']) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) if (/Packages|Release|\.list$|\.sources$|preferences/.test(name)) files.push(join(dir, name));
  }
  const stats = await Promise.all(files.sort().map(async (f) => stat(f).then((s) => [f, s.size, s.mtimeMs], () => [f])));
  return keyOf(stats);
}

/** `name=version` lines of `apt-get --simulate` against an empty system, sorted. */
async function simulate(packages: readonly string[]): Promise<string[]> {
  const args = ['-s', '-q', '-o', 'Dir::State::status=/dev/null', '-o', 'APT::Install-Recommends=false', '-o', 'Debug::NoLocking=1', 'install', ...MINBASE, ...packages];
  let stdout: string;
  try {
    ({ stdout } = await exec('apt-get', args, { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }));
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`apt cannot resolve ${packages.join(' ')} (${stderr.trim().split('\n').slice(-3).join('; ') || (err as Error).message}); run apt-get update`, { cause: err });
  }
  const lines = [...stdout.matchAll(/^Inst (\S+) \((\S+)/gm)].map((m) => `${m[1]!.replace(/:amd64$/, '')}=${m[2]}`);
  if (lines.length === 0) throw new Error('apt-get --simulate listed no package to install; are the package lists empty? run apt-get update');
  return lines.sort();
}

/**
 * The packages (with versions) a minbase bootstrap plus `packages` installs, memoised under
 * `memoDir` against {@link aptFingerprint} (a fresh resolution costs seconds here).
 */
export async function resolvePackages(packages: readonly string[], memoDir: string): Promise<string[]> {
  const memo = join(memoDir, `apt-${keyOf([await aptFingerprint(), MINBASE, [...packages].sort()])}`);
  const known = await readFile(memo, 'utf8').catch(() => '');
  if (known) return known.split('\n').filter(Boolean);
  const resolved = await simulate(packages);
  await mkdir(memoDir, { recursive: true });
  await writeAtomic(memo, resolved.join('\n') + '\n');
  return resolved;
}
