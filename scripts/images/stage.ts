// One Dockerfile stage as a build plan without Docker: the base it starts from, the RUN steps
// that go into its root filesystem (run by mmdebstrap in a chroot), one layer per COPY/ADD
// after them, and the config it ends with. Instructions this builder cannot honour exactly
// are refused by name rather than approximated.

import { posix } from 'node:path';
import type { RootfsStep } from './rootfs.js';
import { DockerfileError, copies, stageConfig, substitute, type Copy, type RuntimeConfig, type Stage } from './dockerfile.js';

/** What a stage's FROM stands for here: a Debian rootfs recipe, or nothing (`scratch`). */
export interface Base {
  /** For messages and history, e.g. `debian:bookworm-slim (mmdebstrap minbase)`. */
  describe: string;
  /** The base image's config (Env, Cmd, ...). */
  config: RuntimeConfig;
  /** null for scratch: the image has only the COPY layers. */
  rootfs: { suite: string; slim: boolean; include: string[]; steps: RootfsStep[] } | null;
}

/** One COPY/ADD after the last RUN: its own layer. */
export interface CopyLayer {
  /** The instruction as written, for the layer's history. */
  instruction: string;
  copy: Copy;
  /** The WORKDIR at this instruction (relative destinations resolve against it). */
  workdir: string;
  /** Absolute directories WORKDIR asked for before this copy (created root-owned 0755, as Docker does). */
  workdirs: string[];
}

/** A stage ready to build. */
export interface StagePlan {
  base: Base;
  /** RUN texts with the environment each runs with. */
  runs: { run: string; env: readonly string[] }[];
  layers: CopyLayer[];
  /** WORKDIRs no COPY follows: a layer of their own. */
  trailingWorkdirs: string[];
  config: RuntimeConfig;
}

/** Options of {@link planStage}. */
export interface PlanOptions {
  /** The base for each FROM, by the ARG it names (`${DEBIAN_IMAGE}` -> DEBIAN_IMAGE) or the image as written. */
  bases: Readonly<Record<string, Base>>;
  /** Values for ARGs declared inside the stage. */
  buildArgs?: Readonly<Record<string, string>>;
}

const HANDLED = new Set(['FROM', 'RUN', 'COPY', 'ADD', 'WORKDIR', 'USER', 'ENV', 'LABEL', 'ENTRYPOINT', 'CMD', 'ARG']);

function baseOf(s: Stage, bases: PlanOptions['bases']): Base {
  const key = /^\$\{?(\w+)\}?$/.exec(s.from)?.[1] ?? s.from;
  const base = bases[key];
  if (!base) throw new DockerfileError(`stage ${s.name}: FROM ${s.from} has no Docker-free stand-in; known: ${Object.keys(bases).join(', ')}`);
  return base;
}

/** What {@link planStage} tracks while it walks the instructions. */
interface Walk {
  s: Stage;
  plan: StagePlan;
  vars: Record<string, string>;
  copies: Iterator<Copy>;
  workdir: string;
  userSet: boolean;
}

function onRun(w: Walk, args: string, i: number, where: string): void {
  if (args.startsWith('--')) throw new DockerfileError(`${where}: RUN flags are not supported by the Docker-free build`);
  if (w.plan.layers.length) throw new DockerfileError(`${where}: a RUN after COPY/ADD is not supported by the Docker-free build; move the COPY after it`);
  if (w.userSet) throw new DockerfileError(`${where}: a RUN after USER is not supported by the Docker-free build (RUN steps run as root)`);
  const env = stageConfig({ ...w.s, instructions: w.s.instructions.slice(0, i) }, w.plan.base.config).Env ?? [];
  w.plan.runs.push({ run: args, env });
}

function onWorkdir(w: Walk, args: string, i: number): void {
  w.workdir = posix.resolve(w.workdir, args);
  // Docker creates a missing WORKDIR: inside the rootfs when a RUN follows, else in the next layer.
  const runFollows = w.s.instructions.slice(i + 1).some((x) => x.keyword === 'RUN');
  if (runFollows && w.plan.base.rootfs) w.plan.runs.push({ run: `mkdir -p ${w.workdir}`, env: w.plan.base.config.Env ?? [] });
  else w.plan.trailingWorkdirs.push(w.workdir);
}

function onCopy(w: Walk, keyword: string, args: string, where: string): void {
  const copy = w.copies.next().value as Copy;
  if (keyword === 'ADD' && copy.sources.some((src) => /^[a-z]+:\/\/|\.(tar|tgz|gz|xz|bz2)$/.test(src))) {
    throw new DockerfileError(`${where}: ADD of a URL or an archive is not supported by the Docker-free build`);
  }
  const resolved = { ...copy, sources: copy.sources.map((src) => substitute(src, w.vars)), dest: substitute(copy.dest, w.vars) };
  w.plan.layers.push({ instruction: `${keyword} ${args}`, copy: resolved, workdir: w.workdir, workdirs: w.plan.trailingWorkdirs.splice(0) });
}

/**
 * Plans `s`: RUNs (root, before any COPY), then one layer per COPY/ADD. A USER before a RUN, a
 * RUN after a COPY, RUN flags (--mount) and instructions outside {@link HANDLED} are refused.
 */
export function planStage(s: Stage, options: PlanOptions): StagePlan {
  const base = baseOf(s, options.bases);
  const plan: StagePlan = { base, runs: [], layers: [], trailingWorkdirs: [], config: stageConfig(s, base.config) };
  const w: Walk = { s, plan, vars: {}, copies: copies(s).values(), workdir: base.config.WorkingDir ?? '/', userSet: false };
  s.instructions.forEach(({ keyword, args }, i) => {
    const where = `stage ${s.name || '(unnamed)'}, ${keyword} ${args.slice(0, 60)}`;
    if (!HANDLED.has(keyword)) throw new DockerfileError(`${where}: ${keyword} is not supported by the Docker-free build (scripts/images/stage.ts)`);
    if (keyword === 'ARG') {
      const eq = args.indexOf('=');
      const name = eq < 0 ? args : args.slice(0, eq);
      w.vars[name] = options.buildArgs?.[name] ?? (eq < 0 ? '' : args.slice(eq + 1));
    } else if (keyword === 'RUN') onRun(w, args, i, where);
    else if (keyword === 'WORKDIR') onWorkdir(w, args, i);
    else if (keyword === 'USER') w.userSet = true;
    else if (keyword === 'COPY' || keyword === 'ADD') onCopy(w, keyword, args, where);
  });
  return plan;
}

/** Where one COPY source lands: Docker's rule (a destination ending in `/`, or several sources, is a directory). */
export function copyDestination(copy: Copy, source: string, workdir = '/'): string {
  const dest = posix.resolve(workdir, copy.dest);
  return copy.dest.endsWith('/') || copy.sources.length > 1 ? posix.join(dest, posix.basename(source)) : dest;
}
