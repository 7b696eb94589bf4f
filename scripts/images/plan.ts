// Build plans: an image as a list of layers, each with a key of its inputs and a way to produce
// it, and the config. A plan's key is known before anything is built (package versions as apt
// resolves them, file digests, source hashes), so a cached image is found in about a second.

import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { resolvePackages } from './apt.js';
import { fileDigest, keyOf } from './cache.js';
import type { ImageConfig } from './oci.js';
import { parentDirs } from './layers.js';
import { mmdebstrapArgs, rootfsStream, type RootfsStep } from './rootfs.js';
import { copyDestination, type CopyLayer, type StagePlan } from './stage.js';
import { tarStream, type TarEntry } from './tar.js';

const exec = promisify(execFile);

/** One layer of a plan. */
export interface LayerPlan {
  /** Key of everything the layer's bytes depend on. */
  key: string;
  /** For progress lines: `rootfs`, `COPY ... /app/`. */
  describe: string;
  /** The tar stream (started only when the layer is not cached). */
  produce: () => AsyncIterable<Buffer>;
}

/** An image to build. */
export interface ImagePlan {
  /** Short name on the command line: `launcher`. */
  name: string;
  /** `kubevmm.local/launcher` */
  repository: string;
  /** The tag's prefix: `0.1.0`; the key follows it. */
  version: string;
  layers: LayerPlan[];
  config: ImageConfig;
  /** What the image was made from, recorded in image.json for people. */
  inputs: Record<string, unknown>;
}

/** A COPY source on this machine: a key of its content and the path to read (made on demand). */
export interface ResolvedSource {
  key: string;
  path: () => Promise<string>;
}

/** Maps a COPY/ADD source to this machine; throws for a source it has no stand-in for. */
export type SourceResolver = (copy: CopyLayer, source: string) => Promise<ResolvedSource>;

/** The rootfs layer of a stage plan, keyed by the recipe and the package versions apt resolves. */
export async function rootfsLayer(stage: StagePlan, aptPackages: readonly string[], memo: string, log: (l: string) => void): Promise<LayerPlan | null> {
  const rootfs = stage.base.rootfs;
  if (!rootfs) return null;
  const steps: RootfsStep[] = [...rootfs.steps, ...stage.runs];
  const include = rootfs.include;
  const resolved = await resolvePackages([...include, ...aptPackages], memo);
  const stepKeys = await Promise.all(steps.map(async (s) => ('upload' in s ? { ...s, upload: await fileDigest(s.upload, memo) } : s)));
  const recipe = { suite: rootfs.suite, slim: rootfs.slim, include, steps };
  const { stdout: mmdebstrap } = await exec('dpkg-query', ['-W', '-f', '${Version}', 'mmdebstrap']).catch(() => ({ stdout: 'missing' }));
  return {
    // mmdebstrap's exact arguments (hooks, filters) count, as do the uploads' contents.
    key: keyOf(['rootfs', mmdebstrapArgs(recipe), stepKeys, resolved, mmdebstrap]),
    describe: `rootfs (${stage.base.describe}, ${stage.runs.length} RUN)`,
    produce: () => rootfsStream(recipe, log),
  };
}

function owner(chown: string | undefined): { uid: number; gid: number } {
  if (!chown) return { uid: 0, gid: 0 };
  const m = /^(\d+)(?::(\d+))?$/.exec(chown);
  if (!m) throw new Error(`--chown=${chown}: the Docker-free build takes numeric UID[:GID] only`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
}

/** The files under `rel` of `root` (itself when it is a file), relative to `root`, sorted. */
export async function walkFiles(root: string, rel: string): Promise<string[]> {
  const s = await stat(join(root, rel));
  if (!s.isDirectory()) return [rel];
  const names = (await readdir(join(root, rel))).sort();
  return (await Promise.all(names.map((n) => walkFiles(root, posix.join(rel, n))))).flat();
}

/** The entries one COPY source makes: a file at its destination, or a directory's files under the destination (its contents, as Docker copies a directory). */
async function sourceEntries(s: { src: string; dest: string; resolved: ResolvedSource }, layer: CopyLayer, mode: number | undefined): Promise<{ path: string; source: string; mode: number }[]> {
  const path = await s.resolved.path();
  if (!(await stat(path)).isDirectory()) return [{ path: s.dest, source: path, mode: mode ?? (await stat(path)).mode & 0o7777 }];
  const into = posix.resolve(layer.workdir, layer.copy.dest);
  const files = await walkFiles(path, '.');
  return Promise.all(files.map(async (f) => ({ path: posix.join(into, f), source: join(path, f), mode: mode ?? (await stat(join(path, f))).mode & 0o7777 })));
}

/** One layer per COPY/ADD: parents, WORKDIRs and the files, owned and moded as Docker would. */
export async function copyLayer(layer: CopyLayer, resolve: SourceResolver): Promise<LayerPlan> {
  const sources = await Promise.all(layer.copy.sources.map(async (src) => ({ src, dest: copyDestination(layer.copy, src, layer.workdir), resolved: await resolve(layer, src) })));
  const ids = owner(layer.copy.chown);
  const chmod = layer.copy.chmod ? parseInt(layer.copy.chmod, 8) : undefined;
  const rel = (p: string) => posix.relative('/', p);
  return {
    key: keyOf(['copy', layer.instruction, layer.workdir, layer.workdirs, sources.map((s) => [s.dest, s.resolved.key])]),
    describe: layer.instruction,
    produce: async function* () {
      const files: TarEntry[] = [];
      for (const s of sources) {
        for (const e of await sourceEntries(s, layer, chmod)) files.push({ type: 'file', path: rel(e.path), source: e.source, mode: e.mode, ...ids });
      }
      const dirs = layer.workdirs.map(rel);
      const parents = parentDirs([...files.map((f) => f.path), ...dirs.map((d) => `${d}/.`)]);
      yield* tarStream([...parents, ...files]);
    },
  };
}

/** A layer of fixed entries (the generic spec, the containerDisk), keyed by `key`. */
export function entriesLayer(key: string, describe: string, entries: readonly TarEntry[]): LayerPlan {
  return { key, describe, produce: () => tarStream(entries) };
}

/** The image key: every layer key and the config. */
export function planKey(plan: ImagePlan, builder: string): string {
  return keyOf([plan.repository, plan.version, plan.layers.map((l) => l.key), plan.config, builder]);
}
