// kubevmm's images as build plans. The operator and launcher come from the Dockerfile's stages
// themselves (its RUNs run in a Debian chroot; COPY --from=build takes this checkout's bundles
// and this machine's node binary), so the two ways of building cannot drift apart.

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bundle, ENTRIES, REPO_ROOT, UI_APP_DIR } from '../bundle.js';
import { bundleUi } from '../bundle-ui.js';
import { debianBase, nodeBase, probeNode, type NodeBinary } from './bases.js';
import { aptInstalls, copies, dockerignore, parseDockerfile, stage, type Dockerfile } from './dockerfile.js';
import { copyLayer, rootfsLayer, walkFiles, type ImagePlan, type ResolvedSource, type SourceResolver } from './plan.js';
import { planStage, type Base } from './stage.js';

/** The project's image repositories live under this made-up registry: nothing is ever pulled from it. */
export const REGISTRY = 'kubevmm.local';

/** What the project plans share: read once per run. */
export interface ProjectContext {
  repo: string;
  dockerfile: Dockerfile;
  version: string;
  node: NodeBinary;
  /** Memo directory of the cache. */
  memo: string;
  /** Scratch space for this run (bundles, compiled binaries); the caller removes it. */
  workDir: string;
  /** The bundles' directory once built: one esbuild run serves every image of the run. */
  bundled?: Promise<string>;
  log: (line: string) => void;
}

/** Reads the Dockerfile, package.json's version and the node binary. */
export async function projectContext(options: { memo: string; workDir: string; log: (line: string) => void; repo?: string }): Promise<ProjectContext> {
  const { memo, workDir, log, repo = REPO_ROOT } = options;
  const [text, pkg, node] = await Promise.all([readFile(join(repo, 'Dockerfile'), 'utf8'), readFile(join(repo, 'package.json'), 'utf8'), probeNode(memo)]);
  return { repo, dockerfile: parseDockerfile(text), version: (JSON.parse(pkg) as { version: string }).version, node, memo, workDir, log };
}

/** The stand-ins for the Dockerfile's base image ARGs, from their defaults. */
export function projectBases(ctx: Pick<ProjectContext, 'dockerfile' | 'node'>): Record<string, Base> {
  const { NODE_IMAGE, DEBIAN_IMAGE } = ctx.dockerfile.args;
  if (!NODE_IMAGE || !DEBIAN_IMAGE) throw new Error('the Dockerfile must declare ARG NODE_IMAGE=... and ARG DEBIAN_IMAGE=... before its first FROM');
  return { NODE_IMAGE: nodeBase(NODE_IMAGE, ctx.node), DEBIAN_IMAGE: debianBase(DEBIAN_IMAGE) };
}

/**
 * A hash of what the build stage copies from the checkout (its COPY sources less .dockerignore's
 * exclusions): the bundles' inputs, which cli/dockerfile.test.ts checks it covers.
 */
export async function buildContextHash(ctx: Pick<ProjectContext, 'repo' | 'dockerfile'>): Promise<string> {
  const ignored = dockerignore(await readFile(join(ctx.repo, '.dockerignore'), 'utf8').catch(() => ''));
  const sources = copies(stage(ctx.dockerfile, 'build')).filter((c) => !c.from).flatMap((c) => c.sources);
  const files = [...new Set((await Promise.all(sources.map((s) => walkFiles(ctx.repo, s.replace(/\/$/, ''))))).flat())].filter((f) => !ignored(f)).sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file}\0`).update(await readFile(join(ctx.repo, file))).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** The app's directory in a bundle run's output; an error naming the build when it is not there. */
async function appDir(bundled: string): Promise<string> {
  const dir = join(bundled, UI_APP_DIR);
  const ok = await stat(join(dir, 'index.html')).then((s) => s.isFile(), () => false);
  if (!ok) throw new Error(`the web console's app is not in the bundles (${dir}/index.html is missing): scripts/bundle.ts builds it into <outdir>/${UI_APP_DIR}`);
  return dir;
}

/**
 * COPY --from=build stands for this checkout's bundles (`/src/dist/<name>.mjs[.map]` and the app's `/src/dist/ui/`, built by
 * scripts/bundle.ts once per run) and this machine's node (`/usr/local/bin/node`).
 */
function buildStageResolver(ctx: ProjectContext, sourceHash: string): SourceResolver {
  const bundles = () =>
    (ctx.bundled ??= (async () => {
      const out = await mkdtemp(join(ctx.workDir, 'bundle-'));
      ctx.log(`bundling ${ENTRIES.map((e) => e.name).join(', ')} and the web console (scripts/bundle.ts, bundle-ui.ts)`);
      await bundle({ outDir: out, root: ctx.repo });
      await bundleUi({ outDir: join(out, UI_APP_DIR), root: ctx.repo });
      return out;
    })());
  return async (layer, source): Promise<ResolvedSource> => {
    if (layer.copy.from !== 'build') throw new Error(`${layer.instruction}: only COPY --from=build has a Docker-free stand-in`);
    if (source === '/usr/local/bin/node') return { key: ctx.node.digest, path: async () => ctx.node.path };
    const m = /^\/src\/dist\/([\w-]+\.mjs(?:\.map)?)$/.exec(source);
    if (m) return { key: `${sourceHash}:${m[1]}`, path: async () => join(await bundles(), m[1]!) };
    // The web console's app, built by scripts/bundle.ts beside the .mjs bundles.
    if (source.replace(/\/$/, '') === `/src/dist/${UI_APP_DIR}`) return { key: `${sourceHash}:${UI_APP_DIR}/`, path: async () => appDir(await bundles()) };
    throw new Error(`${layer.instruction}: no stand-in for the build stage's ${source} (scripts/images/project.ts knows /src/dist/*.mjs and /usr/local/bin/node)`);
  };
}

/** The plan for the Dockerfile stage `name` (operator or launcher). */
export async function stageImage(ctx: ProjectContext, name: string, sourceHash: string): Promise<ImagePlan> {
  const s = stage(ctx.dockerfile, name);
  const plan = planStage(s, { bases: projectBases(ctx) });
  const resolve = buildStageResolver(ctx, sourceHash);
  const rootfs = await rootfsLayer(plan, aptInstalls(s), ctx.memo, ctx.log);
  const layers = [...(rootfs ? [rootfs] : []), ...(await Promise.all(plan.layers.map((l) => copyLayer(l, resolve))))];
  if (plan.trailingWorkdirs.length) throw new Error(`stage ${name}: a WORKDIR after the last COPY is not supported by the Docker-free build`);
  return {
    name,
    repository: `${REGISTRY}/${name}`,
    version: ctx.version,
    layers,
    config: plan.config,
    inputs: { dockerfileStage: name, base: plan.base.describe, node: `${ctx.node.version} ${ctx.node.path}`, sourceHash },
  };
}
