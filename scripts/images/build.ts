// Builds kubevmm's images without a container engine, cached by their inputs, as oci-archives
// that `ctr -n k8s.io images import` loads under exactly the printed reference (docs/images.md,
// "Building without Docker").
//
//   bash scripts/images/build.sh [NAME...]        launcher operator guest-disk pause (default: all)
//   bash scripts/images/build.sh --spec FILE...   generic images from JSON specs (scripts/images/spec.ts)
//
// stdout: one line per image, `<reference> <archive path>`; progress goes to stderr.

import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cacheRoot, prune, publishDir, touch, withLock, writeAtomic } from './cache.js';
import { guestDiskImage, pauseImage } from './fixtures.js';
import { cachedLayer } from './layers.js';
import { writeOciArchive } from './oci.js';
import { planKey, type ImagePlan } from './plan.js';
import { buildContextHash, projectContext, stageImage, type ProjectContext } from './project.js';
import { stopBootstraps } from './rootfs.js';
import { parseImageSpec, specImage } from './spec.js';

/** The project's images, by the name the command line takes. */
export const PROJECT_IMAGES = ['launcher', 'operator', 'guest-disk', 'pause'] as const;

/** A built (or found) image. */
export interface BuiltImage {
  name: string;
  ref: string;
  /** The oci-archive to import. */
  archive: string;
  cached: boolean;
  /** Archive size in bytes. */
  size: number;
}

/** What image.json beside each archive records. */
interface ImageRecord {
  ref: string;
  manifestDigest: string;
  configDigest: string;
  archiveSize: number;
  layerKeys: string[];
  buildSeconds: number;
  inputs: Record<string, unknown>;
}

const log = (line: string) => process.stderr.write(`images: ${line}\n`);

/** A key of the builder's own sources: a change to how images are made rebuilds them. */
async function builderHash(): Promise<string> {
  const dir = dirname(fileURLToPath(import.meta.url));
  const hash = createHash('sha256');
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts')).sort()) hash.update(name).update(await readFile(join(dir, name)));
  return hash.digest('hex').slice(0, 16);
}

const repoDir = (repository: string) => repository.replace(/[/:]/g, '+');

/**
 * Builds `plan` unless an image with its key is cached; the archive appears whole (built in a
 * temporary directory, renamed into place) and writers take the cache lock.
 */
export async function buildImage(plan: ImagePlan, root: string, builder: string): Promise<BuiltImage> {
  const tag = `${plan.version}-${planKey(plan, builder)}`;
  const ref = `${plan.repository}:${tag}`;
  const dir = join(root, repoDir(plan.repository), tag);
  const archive = join(dir, 'image.oci.tar');
  const found = async (): Promise<BuiltImage | undefined> => {
    const record = await readFile(join(dir, 'image.json'), 'utf8').catch(() => '');
    const present = record && (await access(archive).then(() => true, () => false));
    return present ? { name: plan.name, ref, archive, cached: true, size: (JSON.parse(record) as ImageRecord).archiveSize } : undefined;
  };
  const cached = await found();
  if (cached) {
    await touch(dir);
    return cached;
  }
  return withLock(join(root, '.lock'), async () => {
    const raced = await found();
    if (raced) return raced;
    log(`${plan.name}: building ${ref}`);
    const started = Date.now();
    const store = { root, log: (l: string) => log(`${plan.name}: ${l}`) };
    const layers = [];
    for (const layer of plan.layers) layers.push(await cachedLayer(store, layer.key, layer.describe, layer.produce));
    await mkdir(dirname(dir), { recursive: true });
    const tmp = await mkdtemp(join(dirname(dir), `.${tag}.`));
    try {
      const written = await writeOciArchive({ ref, layers, config: plan.config, history: plan.layers.map((l) => l.describe) }, join(tmp, 'image.oci.tar'));
      const record: ImageRecord = { ref, ...written, layerKeys: layers.map((l) => l.cacheKey), buildSeconds: (Date.now() - started) / 1000, inputs: plan.inputs };
      await writeAtomic(join(tmp, 'image.json'), JSON.stringify(record, null, 2));
      await publishDir(tmp, dir);
      await prune(root);
      log(`${plan.name}: built in ${record.buildSeconds.toFixed(1)} s, ${(written.archiveSize / 1e6).toFixed(1)} MB`);
      return { name: plan.name, ref, archive, cached: false, size: written.archiveSize };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, () => log(`${plan.name}: waiting for another build to finish (${join(root, '.lock')})`));
}

/** The plan of a project image by name. */
async function projectPlan(name: string, ctx: ProjectContext, sourceHash: () => Promise<string>): Promise<ImagePlan> {
  if (name === 'launcher' || name === 'operator') return stageImage(ctx, name, await sourceHash());
  if (name === 'guest-disk') return guestDiskImage(ctx);
  if (name === 'pause') return pauseImage(ctx);
  throw new Error(`unknown image ${name}; known: ${PROJECT_IMAGES.join(', ')} (or --spec FILE)`);
}

/** Command-line arguments: image names, or `--spec FILE` (repeatable). */
export function parseArgs(argv: readonly string[]): { names: string[]; specs: string[] } {
  const names: string[] = [];
  const specs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--spec') {
      const file = argv[++i];
      if (!file) throw new Error('--spec needs a JSON file (schema: scripts/images/spec.ts)');
      specs.push(file);
    } else if (arg.startsWith('-')) {
      throw new Error(`unknown option ${arg}; usage: build.sh [NAME...] | --spec FILE [--spec FILE...]; names: ${PROJECT_IMAGES.join(', ')}`);
    } else if (!(PROJECT_IMAGES as readonly string[]).includes(arg)) {
      throw new Error(`unknown image ${arg}; known: ${PROJECT_IMAGES.join(', ')}`);
    } else names.push(arg);
  }
  return { names: names.length || specs.length ? names : [...PROJECT_IMAGES], specs };
}

/** Builds what `argv` asks for and prints `<ref> <archive>` for each. */
export async function main(argv: readonly string[], root = cacheRoot()): Promise<BuiltImage[]> {
  const { names, specs } = parseArgs(argv);
  const memo = join(root, 'memo');
  await mkdir(memo, { recursive: true });
  const workDir = await mkdtemp(join(tmpdir(), 'kubevmm-images-'));
  workDirs.add(workDir);
  try {
    const builder = await builderHash();
    const plans: ImagePlan[] = [];
    for (const file of specs) {
      const json: unknown = JSON.parse(await readFile(file, 'utf8').catch((err: Error) => { throw new Error(`--spec ${file}: ${err.message}`); }));
      plans.push(await specImage(parseImageSpec(json, file), memo));
    }
    if (names.length) {
      const ctx = await projectContext({ memo, workDir, log });
      let hash: Promise<string> | undefined;
      // Planning is probing (apt, digests, the guest's build script): all at once.
      plans.push(...(await Promise.all(names.map((name) => projectPlan(name, ctx, () => (hash ??= buildContextHash(ctx)))))));
    }
    const built: BuiltImage[] = [];
    for (const plan of plans) {
      const image = await buildImage(plan, root, builder);
      if (image.cached) log(`${image.name}: cached ${image.ref} (${(image.size / 1e6).toFixed(1)} MB)`);
      process.stdout.write(`${image.ref} ${image.archive}\n`);
      built.push(image);
    }
    return built;
  } finally {
    await rm(workDir, { recursive: true, force: true });
    workDirs.delete(workDir);
  }
}

/** Scratch directories of runs in progress, for the signal handlers. */
const workDirs = new Set<string>();

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      // A bootstrap must unmount its chroot itself; partial layers and archives go at the next prune.
      void stopBootstraps().finally(() => {
        for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
        process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      });
    });
  }
  main(process.argv.slice(2)).then(
    () => log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`),
    (err: unknown) => {
      log(`error: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
