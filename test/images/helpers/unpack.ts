// Reads an oci-archive the way a runtime does (index -> manifest -> config and layers) and
// unpacks its layers in order into a root filesystem, keeping owners (the test runs as root),
// and runs commands inside one as a given user.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** What an image's config says about running it. */
export interface ImageConfigBlob {
  architecture: string;
  os: string;
  config: { User?: string; WorkingDir?: string; Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; Labels?: Record<string, string> };
}

/** An unpacked image. */
export interface Unpacked {
  root: string;
  config: ImageConfigBlob;
  /** The index's annotations of its one manifest. */
  annotations: Record<string, string>;
}

/** Unpacks `archive` under `dir` (dir/layout and dir/root). */
export async function unpackImage(archive: string, dir: string): Promise<Unpacked> {
  const layout = await mkdtemp(join(dir, 'layout-'));
  const root = join(dir, 'root');
  await mkdir(root, { recursive: true });
  await exec('tar', ['-xf', archive, '-C', layout]);
  const blob = async <T>(digest: string) => JSON.parse(await readFile(join(layout, 'blobs/sha256', digest.slice('sha256:'.length)), 'utf8')) as T;
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  if (index.manifests.length !== 1) throw new Error(`${archive}: expected one manifest, found ${index.manifests.length}`);
  const manifest = await blob<{ config: { digest: string }; layers: { digest: string }[] }>(index.manifests[0]!.digest);
  for (const layer of manifest.layers) {
    await exec('tar', ['-xzpf', join(layout, 'blobs/sha256', layer.digest.slice('sha256:'.length)), '-C', root, '--same-owner', '--numeric-owner'], { maxBuffer: 64 * 1024 * 1024 });
  }
  const config = await blob<ImageConfigBlob>(manifest.config.digest);
  await rm(layout, { recursive: true, force: true });
  return { root, config, annotations: index.manifests[0]!.annotations ?? {} };
}

/**
 * Runs `argv` inside `root` as `user` (uid:gid, no supplementary groups) with the image's
 * environment and working directory, in a private mount namespace with its own /proc and the
 * host's /dev, as a container runtime would give it.
 */
export async function runIn(root: string, user: string, argv: readonly string[], image: ImageConfigBlob['config'] = {}): Promise<{ stdout: string; stderr: string }> {
  const script = 'mkdir -p "$0/proc" "$0/dev" && mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" && exec env -i "$@"';
  // chroot(1) starts in /: a WORKDIR needs the image's shell (images without one have none).
  const workdir = image.WorkingDir && image.WorkingDir !== '/' ? ['sh', '-c', 'cd "$0" && exec "$@"', image.WorkingDir] : [];
  const inner = [...(image.Env ?? ['PATH=/usr/bin:/bin']), '/usr/sbin/chroot', `--userspec=${user}`, root, ...workdir, ...argv];
  return exec('unshare', ['--mount', '--fork', '--propagation', 'private', 'sh', '-c', script, root, ...inner], { maxBuffer: 16 * 1024 * 1024 });
}

/** Installed packages (name -> version) from an unpacked Debian rootfs's dpkg status. */
export async function dpkgStatus(root: string): Promise<Map<string, string>> {
  const status = await readFile(join(root, 'var/lib/dpkg/status'), 'utf8');
  const out = new Map<string, string>();
  for (const para of status.split(/\n\n+/)) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(para)?.[1];
    if (field('Status') === 'install ok installed') out.set(field('Package')!, field('Version')!);
  }
  return out;
}
