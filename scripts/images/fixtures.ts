// The test-tier images that are not the project's own: the busybox test guest packed as a
// containerDisk (its disk image under /disk/, owned by the qemu user 107, as KubeVirt's
// containerDisks are), and the pause image, compiled statically from pause.c in the Kubernetes
// module the local cluster builds and shaped by that module's own pause Dockerfile.

import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LAUNCHER_UID } from '../../api/layout.js';
import { SCRATCH } from './bases.js';
import { fileDigest, keyOf } from './cache.js';
import { parseDockerfile } from './dockerfile.js';
import { copyLayer, entriesLayer, type ImagePlan, type ResolvedSource } from './plan.js';
import type { ProjectContext } from './project.js';
import { REGISTRY } from './project.js';
import { planStage } from './stage.js';
import type { TarEntry } from './tar.js';

const exec = promisify(execFile);

/** Runs a build script whose last stdout line is its result; its progress passes through to stderr. */
async function lastLine(command: string, args: string[], cwd: string): Promise<string> {
  const child = exec(command, args, { cwd, maxBuffer: 16 * 1024 * 1024 });
  child.child.stderr?.pipe(process.stderr);
  const { stdout } = await child.catch((err: Error) => {
    throw new Error(`${command} ${args.join(' ')} failed: ${err.message}`, { cause: err });
  });
  const line = stdout.trim().split('\n').at(-1);
  if (!line) throw new Error(`${command} ${args.join(' ')} printed nothing`);
  return line;
}

/** Where the containerDisk's image file goes; operator/render/volumes.ts copies from this directory by default. */
export const CONTAINER_DISK_DIR = 'disk';

/** The fixture guest (test/fixtures/guest/build.sh, cached by its inputs) as a containerDisk image. */
export async function guestDiskImage(ctx: ProjectContext): Promise<ImagePlan> {
  const image = await lastLine('bash', ['test/fixtures/guest/build.sh'], ctx.repo);
  const digest = await fileDigest(image, ctx.memo);
  const layout: TarEntry[] = [
    { type: 'dir', path: CONTAINER_DISK_DIR, mode: 0o755, uid: 0, gid: 0 },
    { type: 'file', path: `${CONTAINER_DISK_DIR}/guest.img`, source: image, mode: 0o440, uid: LAUNCHER_UID, gid: LAUNCHER_UID },
  ];
  return {
    name: 'guest-disk',
    repository: `${REGISTRY}/guest-disk`,
    version: ctx.version,
    layers: [entriesLayer(keyOf(['containerdisk', digest, layout.map((e) => ({ ...e, source: undefined }))]), `guest disk ${image}`, layout)],
    config: {},
    inputs: { guestImage: image, sha256: digest },
  };
}

/** The Kubernetes version the local cluster builds (test/cluster/go.mod). */
async function kubernetesVersion(repo: string): Promise<string> {
  const gomod = await readFile(join(repo, 'test/cluster/go.mod'), 'utf8');
  const version = /^\s*k8s\.io\/kubernetes\s+(v\S+)/m.exec(gomod)?.[1];
  if (!version) throw new Error('test/cluster/go.mod names no k8s.io/kubernetes version');
  return version;
}

/** The Kubernetes module's directory in the Go module cache, downloaded through the Go proxy if missing. */
async function kubernetesModule(version: string): Promise<string> {
  const cache = process.env.GOMODCACHE || join(process.env.GOPATH || join(homedir(), 'go'), 'pkg/mod');
  const dir = join(cache, `k8s.io/kubernetes@${version}`);
  if (await access(join(dir, 'build/pause/linux/pause.c')).then(() => true, () => false)) return dir;
  try {
    const { stdout } = await exec('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], { maxBuffer: 4 * 1024 * 1024 });
    return (JSON.parse(stdout) as { Dir: string }).Dir;
  } catch (err) {
    throw new Error(`the pause image needs pause.c from k8s.io/kubernetes@${version}, which is not in ${cache}; go mod download failed (${(err as Error).message}); bash test/cluster/cluster.sh build fetches it`, { cause: err });
  }
}

/**
 * The pause image: pause.c built with the flags of the module's build/pause/Makefile (static,
 * -Os, stripped), laid out by its build/pause/Dockerfile (`ADD bin/pause-linux-${ARCH} /pause`,
 * USER 65535:65535, ENTRYPOINT ["/pause"]), tagged with the Makefile's TAG.
 */
export async function pauseImage(ctx: ProjectContext): Promise<ImagePlan> {
  const k8s = await kubernetesVersion(ctx.repo);
  const dir = join(await kubernetesModule(k8s), 'build/pause');
  const [dockerfile, makefile, source] = await Promise.all(['Dockerfile', 'Makefile', 'linux/pause.c'].map((f) => readFile(join(dir, f), 'utf8')));
  const tag = /^TAG \?= (\S+)$/m.exec(makefile!)?.[1];
  if (!tag) throw new Error(`${dir}/Makefile has no "TAG ?= ..." line`);
  const { stdout: gcc } = await exec('gcc', ['-dumpfullversion']).catch((err: Error) => {
    throw new Error(`the pause image needs gcc with static glibc: apt-get install -y gcc libc6-dev (${err.message})`, { cause: err });
  });
  const flags = ['-Os', '-Wall', '-Werror', '-static', '-s', `-DVERSION=v${tag}-kubevmm`];
  const binary = join(ctx.workDir, 'pause-linux-amd64');
  const compiled: ResolvedSource = {
    key: keyOf([source, gcc.trim(), flags]),
    path: async () => {
      ctx.log(`compiling pause.c from k8s.io/kubernetes@${k8s} (gcc ${flags.join(' ')})`);
      await exec('gcc', [...flags, '-o', binary, join(dir, 'linux/pause.c')]);
      return binary;
    },
  };
  const [stage] = parseDockerfile(dockerfile!).stages;
  const plan = planStage(stage!, { bases: { BASE: SCRATCH }, buildArgs: { ARCH: 'amd64' } });
  const layers = await Promise.all(
    plan.layers.map((l) =>
      copyLayer(l, async (_layer, src) => {
        if (src !== 'bin/pause-linux-amd64') throw new Error(`${dir}/Dockerfile: ${l.instruction}: only bin/pause-linux-amd64 is built here`);
        return compiled;
      }),
    ),
  );
  return { name: 'pause', repository: `${REGISTRY}/pause`, version: tag, layers, config: plan.config, inputs: { kubernetes: k8s, source: join(dir, 'linux/pause.c'), gcc: gcc.trim() } };
}
