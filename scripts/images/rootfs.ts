// A root filesystem from Debian packages, with mmdebstrap: a minbase bootstrap (the package set
// of Debian's docker images), slimmed the way the `-slim` images are, then the steps of a
// Dockerfile stage run inside it in order (each RUN under /bin/sh -c, as Docker runs it). The
// tar stream goes straight into a layer; /dev is left empty, as in any image.

import { spawn, type ChildProcess } from 'node:child_process';

/** One step inside the chroot, in Dockerfile order. */
export type RootfsStep =
  /** A RUN's shell text, with the environment the stage has at that point. */
  | { run: string; env: readonly string[] }
  /** A file from this machine placed at an absolute path, root-owned, with `mode`. */
  | { upload: string; path: string; mode: number };

/** What {@link rootfsStream} builds. */
export interface RootfsRecipe {
  /** Debian suite, e.g. `bookworm`. */
  suite: string;
  /** Drop documentation, man pages and translations at install time, as Debian's `-slim` images do. */
  slim: boolean;
  /** Packages installed with the bootstrap (no recommends). */
  include: readonly string[];
  steps: readonly RootfsStep[];
}

/**
 * dpkg filters of the `-slim` images: docs (but not the copyright files), man and info pages,
 * translations (but not locale.alias) and lintian overrides are never unpacked. They stay in
 * /etc/dpkg/dpkg.cfg.d, so what a RUN installs later is slimmed too, as in the Docker build.
 */
export const SLIM_DPKG = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/lintian/overrides/*',
  'path-exclude=/usr/share/linda/*',
] as const;

/** mmdebstrap's hooks that lay out merged /usr the way debootstrap (and so Debian's images) do. */
export const MERGED_USR_HOOKS = '/usr/share/mmdebstrap/hooks/merged-usr';

/** Fixed file dates in the tar (SOURCE_DATE_EPOCH): the same packages give the same bytes. */
export const SOURCE_DATE_EPOCH = '946684800';

/** mmdebstrap's arguments and the environment its hooks read the RUN texts from. */
export function mmdebstrapArgs(recipe: RootfsRecipe): { args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const hooks: string[] = [];
  recipe.steps.forEach((step, i) => {
    if ('upload' in step) {
      // Special hooks split on spaces and the chmod hook is shell: plain paths only.
      if (![step.upload, step.path].every((p) => /^\/[\w./+-]+$/.test(p))) {
        throw new RootfsError(`cannot upload ${step.upload} to ${step.path}: only absolute paths of letters, digits and ._/+- are accepted`);
      }
      hooks.push(`upload ${step.upload} ${step.path}`, `chmod ${step.mode.toString(8)} "$1${step.path}"`);
      return;
    }
    // The text travels in the environment, so no quoting can change what the shell runs.
    env[`KUBEVMM_RUN_${i}`] = step.run;
    const vars = step.env.map((e, j) => {
      env[`KUBEVMM_ENV_${i}_${j}`] = e;
      return `"$KUBEVMM_ENV_${i}_${j}"`;
    });
    hooks.push(`env -i HOME=/root ${vars.join(' ')} /usr/sbin/chroot "$1" /bin/sh -c "$KUBEVMM_RUN_${i}"`);
  });
  // Containers get both from the runtime; the host's copies would make the layer depend on the host.
  hooks.push('rm -f "$1/etc/resolv.conf" "$1/etc/hostname"');
  const args = [
    '--variant=minbase',
    // Merged /usr as debootstrap sets it up (directory links, usr-is-merged): without it, apt
    // satisfies init-system-helpers' "usrmerge | usr-is-merged" with usrmerge and 50 MB of perl.
    `--hook-dir=${MERGED_USR_HOOKS}`,
    '--format=tar',
    ...(recipe.include.length ? [`--include=${recipe.include.join(',')}`] : []),
    ...(recipe.slim ? SLIM_DPKG.map((o) => `--dpkgopt=${o}`) : []),
    ...hooks.map((h) => `--customize-hook=${h}`),
    recipe.suite,
    '-',
  ];
  return { args, env };
}

/** Thrown when mmdebstrap or mmtarfilter fails; `log` holds the end of their output. */
export class RootfsError extends Error {
  override readonly name = 'RootfsError';
}

/** Bootstraps in flight, with how to stop each: see {@link stopBootstraps}. */
const running = new Set<Promise<unknown>>();
const stoppers = new WeakMap<Promise<unknown>, () => void>();

/**
 * Stops every bootstrap in flight and waits for them: mmdebstrap unmounts /proc and /sys of
 * its chroot and removes its temporary directory on SIGTERM, which it cannot do if its
 * parent dies and a broken pipe kills it instead. For the builder's signal handlers.
 */
export async function stopBootstraps(): Promise<void> {
  for (const r of running) stoppers.get(r)?.();
  await Promise.all(running);
}

/** Resolves when `proc` exits: null when it succeeded, otherwise what happened. */
function exited(proc: ChildProcess, what: string): Promise<string | null> {
  return new Promise((resolve) => {
    proc.once('error', (err) => resolve(`${what} did not start (${err.message}); install it: apt-get install -y mmdebstrap (or bash scripts/install-deps.sh)`));
    proc.once('exit', (code, signal) => resolve(code === 0 ? null : `${what} failed (${signal ?? `exit ${code}`})`));
  });
}

/**
 * The rootfs tar of `recipe`: `mmdebstrap ... - | mmtarfilter --path-exclude=/dev/*`. It ends
 * only after both exited 0 and throws otherwise, so a truncated tar never becomes a layer.
 * mmdebstrap's progress goes to `log`.
 */
export async function* rootfsStream(recipe: RootfsRecipe, log: (line: string) => void): AsyncGenerator<Buffer> {
  const { args, env } = mmdebstrapArgs(recipe);
  const tail: string[] = [];
  const note = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (/^[IEW]: /.test(line)) log(`mmdebstrap: ${line}`);
    }
  };
  const strap = spawn('mmdebstrap', args, { env: { ...process.env, ...env, SOURCE_DATE_EPOCH }, stdio: ['ignore', 'pipe', 'pipe'] });
  const filter = spawn('mmtarfilter', ['--path-exclude=/dev/*'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const results = Promise.all([exited(strap, 'mmdebstrap'), exited(filter, 'mmtarfilter')]);
  running.add(results);
  void results.then(() => running.delete(results));
  stoppers.set(results, () => strap.kill('SIGTERM'));
  strap.stdout?.pipe(filter.stdin!);
  strap.stderr?.on('data', note);
  filter.stderr?.on('data', note);
  let complete = false;
  try {
    for await (const chunk of filter.stdout!) yield chunk as Buffer;
    complete = true;
  } finally {
    // A consumer that stopped early must not leave a bootstrap running (mmdebstrap removes its
    // temporary chroot on SIGTERM).
    if (!complete) for (const proc of [strap, filter]) if (proc.exitCode === null) proc.kill('SIGTERM');
  }
  const failures = (await results).filter((r): r is string => r !== null);
  if (failures.length) throw new RootfsError(`${failures.join('; ')}; the last lines:\n${tail.join('\n')}`);
}
