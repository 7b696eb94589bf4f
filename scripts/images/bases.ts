// Stand-ins for the Dockerfile's base images, built from Debian packages:
//   debian:<suite>-slim        mmdebstrap minbase of <suite>, slimmed (the same package set)
//   node:<major>-<suite>-slim  that, plus the `node` user (1000), this machine's node binary at
//                              /usr/local/bin/node and the packages of its shared libraries,
//                              as the node image installs them; no npm, yarn or entrypoint script
//   scratch                    nothing

import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileDigest, writeAtomic } from './cache.js';
import { DockerfileError } from './dockerfile.js';
import type { Base } from './stage.js';

const exec = promisify(execFile);

/** The PATH of Debian's and Node's images. */
export const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The empty base. */
export const SCRATCH: Base = { describe: 'scratch', config: {}, rootfs: null };

/** An image name without a registry or mirror path: `mirror.example/library/debian:x` -> `debian:x`. */
const shortName = (image: string) => image.slice(image.lastIndexOf('/') + 1);

/** The stand-in for `debian:<suite>[-slim]`. */
export function debianBase(image: string): Base {
  const m = /^debian:([a-z]+)(-slim)?$/.exec(shortName(image));
  if (!m) throw new DockerfileError(`base image ${image}: the Docker-free build knows debian:<suite>[-slim] only`);
  return {
    describe: `${image} (mmdebstrap --variant=minbase ${m[1]}${m[2] ? ', slim' : ''})`,
    config: { Env: [`PATH=${IMAGE_PATH}`], Cmd: ['bash'] },
    rootfs: { suite: m[1]!, slim: Boolean(m[2]), include: [], steps: [] },
  };
}

/** The node binary that goes into images, as probed on this machine. */
export interface NodeBinary {
  /** Real path. */
  path: string;
  /** sha256 of the file. */
  digest: string;
  /** `20.20.2` */
  version: string;
  /** Debian packages that ship its shared libraries (libc6, libstdc++6, ...). */
  libraryPackages: string[];
}

/** Packages that ship the shared libraries `binary` links, via ldd and dpkg (usrmerge-aware). */
async function libraryPackages(binary: string): Promise<string[]> {
  const { stdout } = await exec('ldd', [binary]);
  const libs = [...stdout.matchAll(/=>\s+(\/\S+)/g)].map((m) => m[1]!);
  const packages = new Set<string>();
  for (const lib of libs) {
    const real = await realpath(lib);
    const candidates = [lib, real, ...[lib, real].map((p) => (p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`))];
    const { stdout: owners } = await exec('dpkg-query', ['-S', ...candidates]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const line = owners.split('\n').find((l) => l && !l.startsWith('diversion'));
    if (!line) throw new Error(`no Debian package ships ${lib}, which ${binary} links; the image could not provide it`);
    for (const p of line.slice(0, line.lastIndexOf(': ')).split(', ')) packages.add(p.replace(/:.*$/, ''));
  }
  return [...packages].sort();
}

/**
 * Probes the node binary (`KUBEVMM_NODE_BINARY`, else the one running this script), memoised by
 * its digest under `memoDir`.
 */
export async function probeNode(memoDir: string, env: NodeJS.ProcessEnv = process.env): Promise<NodeBinary> {
  const path = await realpath(env.KUBEVMM_NODE_BINARY || process.execPath);
  const digest = await fileDigest(path, memoDir);
  const memo = join(memoDir, `node-${digest.slice(0, 16)}.json`);
  const known = await readFile(memo, 'utf8').catch(() => '');
  if (known) return JSON.parse(known) as NodeBinary;
  const { stdout } = await exec(path, ['--version']);
  const probed: NodeBinary = { path, digest, version: stdout.trim().replace(/^v/, ''), libraryPackages: await libraryPackages(path) };
  await mkdir(memoDir, { recursive: true });
  await writeAtomic(memo, JSON.stringify(probed));
  return probed;
}

/** The stand-in for `node:<major>-<suite>[-slim]`, holding `node`, which must be that major version. */
export function nodeBase(image: string, node: NodeBinary): Base {
  const m = /^node:(\d+)-([a-z]+)(-slim)?$/.exec(shortName(image));
  if (!m) throw new DockerfileError(`base image ${image}: the Docker-free build knows node:<major>-<suite>[-slim] only`);
  if (node.version.split('.')[0] !== m[1]) {
    throw new DockerfileError(`base image ${image} wants Node ${m[1]} but ${node.path} is ${node.version}; point KUBEVMM_NODE_BINARY at a Node ${m[1]} binary built for ${m[2]}'s glibc`);
  }
  const debian = debianBase(`debian:${m[2]}${m[3] ?? ''}`);
  const env = debian.config.Env!;
  return {
    describe: `${image} (mmdebstrap --variant=minbase ${m[2]}${m[3] ? ', slim' : ''}, node ${node.version} from ${node.path})`,
    config: { Env: [...env, `NODE_VERSION=${node.version}`], Cmd: ['node'] },
    rootfs: {
      ...debian.rootfs!,
      include: node.libraryPackages,
      steps: [
        { run: 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node', env },
        { upload: node.path, path: '/usr/local/bin/node', mode: 0o755 },
        { run: 'ln -s node /usr/local/bin/nodejs', env },
      ],
    },
  };
}
