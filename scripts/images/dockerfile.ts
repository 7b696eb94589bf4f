// A reader for the subset of Dockerfile syntax kubevmm's Dockerfile uses: stages, their
// instructions, `apt-get install` package lists, COPY sources, .dockerignore patterns, and the
// image config a stage ends with (Docker's rules for WORKDIR, USER, ENV, ENTRYPOINT and CMD).
// The Docker-free image builder (scripts/images) and cli/dockerfile.test.ts share it, so the
// images built without Docker and the checks of the Dockerfile read the same definitions.

import { posix } from 'node:path';

/** One instruction: continuations joined, comments dropped. */
export interface Instruction {
  /** Upper case: RUN, COPY, ... */
  keyword: string;
  args: string;
}

/** A `FROM ... AS name` stage. */
export interface Stage {
  name: string;
  /** The FROM argument as written, e.g. `${DEBIAN_IMAGE}`. */
  from: string;
  /** The FROM argument with global ARG defaults substituted, e.g. `debian:bookworm-slim`. */
  base: string;
  /** Every instruction of the stage, FROM first. */
  instructions: Instruction[];
}

/** A parsed Dockerfile. */
export interface Dockerfile {
  /** Global ARGs (before the first FROM) and their defaults. */
  args: Record<string, string>;
  stages: Stage[];
}

/** A COPY or ADD instruction. */
export interface Copy {
  keyword: 'COPY' | 'ADD';
  from?: string;
  chown?: string;
  chmod?: string;
  sources: string[];
  dest: string;
}

/** The runtime fields of an OCI image config that a Dockerfile sets. */
export interface RuntimeConfig {
  User?: string;
  WorkingDir?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  Labels?: Record<string, string>;
}

/** A Dockerfile that this reader does not understand, with the line that was at fault. */
export class DockerfileError extends Error {
  override readonly name = 'DockerfileError';
}

/** Logical lines: comment lines dropped (also inside continuations, as Docker does), continuations joined. */
function logicalLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Replaces `${NAME}` and `$NAME` from `vars`; unknown names are left as written. */
export function substitute(value: string, vars: Readonly<Record<string, string>>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a?: string, b?: string) => vars[(a ?? b)!] ?? whole);
}

/** Parses `text` into global ARGs and stages. */
export function parseDockerfile(text: string): Dockerfile {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logicalLines(text)) {
    const [, word = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const keyword = word.toUpperCase();
    if (keyword === 'FROM') {
      const from = rest.split(/\s+/).find((w) => !w.startsWith('--')) ?? '';
      stages.push({ name: /\bAS\s+(\S+)/i.exec(rest)?.[1] ?? '', from, base: substitute(from, args), instructions: [] });
    } else if (keyword === 'ARG' && stages.length === 0) {
      const eq = rest.indexOf('=');
      args[(eq < 0 ? rest : rest.slice(0, eq)).trim()] = eq < 0 ? '' : rest.slice(eq + 1).trim();
      continue;
    }
    stages.at(-1)?.instructions.push({ keyword, args: rest });
  }
  return { args, stages };
}

/** The stage called `name`; throws naming the stages there are. */
export function stage(dockerfile: Dockerfile, name: string): Stage {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (!found) throw new DockerfileError(`the Dockerfile has no stage "${name}" (FROM ... AS ${name}); it has: ${dockerfile.stages.map((s) => s.name || '(unnamed)').join(', ')}`);
  return found;
}

/** The arguments of every `keyword` instruction of the stage, in order. */
export function argsOf(s: Stage, keyword: string): string[] {
  return s.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

/** Packages named by `apt-get install` in the stage's RUN instructions, in order, without version pins. */
export function aptInstalls(s: Stage): string[] {
  const packages: string[] = [];
  for (const run of argsOf(s, 'RUN')) {
    for (const m of run.matchAll(/apt-get\s+install\s+([^&;|]*)/g)) {
      for (const word of m[1]!.split(/\s+/)) if (word && !word.startsWith('-')) packages.push(word.replace(/[=:].*$/, ''));
    }
  }
  return [...new Set(packages)];
}

/** COPY and ADD instructions with their flags. */
export function copies(s: Stage): Copy[] {
  return s.instructions
    .filter((i): i is Instruction & { keyword: 'COPY' | 'ADD' } => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const flag = (name: string) => words.find((w) => w.startsWith(`--${name}=`))?.slice(name.length + 3);
      const paths = words.filter((w) => !w.startsWith('--'));
      const copy: Copy = { keyword: i.keyword, sources: paths.slice(0, -1), dest: paths.at(-1)! };
      for (const [key, value] of [['from', flag('from')], ['chown', flag('chown')], ['chmod', flag('chmod')]] as const) if (value) copy[key] = value;
      return copy;
    });
}

/** Exec form (`["a", "b"]`) as a list; shell form as `/bin/sh -c` like Docker. */
export function commandOf(args: string): string[] {
  if (args.trimStart().startsWith('[')) {
    const parsed: unknown = JSON.parse(args);
    if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new DockerfileError(`not a JSON list of strings: ${args}`);
    return parsed;
  }
  return ['/bin/sh', '-c', args];
}

/** `K=V K2="V 2"` or the legacy `K V` form of ENV and LABEL. */
export function keyValues(args: string): [string, string][] {
  if (!/^\S+=/.test(args)) {
    const [key = '', ...rest] = args.split(/\s+/);
    return [[key, rest.join(' ')]];
  }
  return [...args.matchAll(/(\S+?)=("(?:[^"\\]|\\.)*"|\S*)/g)].map((m) => [m[1]!, m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!]);
}

const setEnv = (env: string[], key: string, value: string) => [...env.filter((e) => !e.startsWith(`${key}=`)), `${key}=${value}`];

/**
 * The runtime config a stage ends with, starting from its base image's config, by Docker's
 * rules: WORKDIR resolves against the previous one, ENTRYPOINT drops a CMD inherited from the
 * base, later instructions win.
 */
export function stageConfig(s: Stage, base: RuntimeConfig): RuntimeConfig {
  const config: RuntimeConfig = structuredClone(base);
  let cmdFromBase = config.Cmd !== undefined;
  for (const { keyword, args } of s.instructions) {
    if (keyword === 'WORKDIR') config.WorkingDir = posix.resolve(config.WorkingDir ?? '/', args);
    else if (keyword === 'USER') config.User = args;
    else if (keyword === 'ENV') for (const [k, v] of keyValues(args)) config.Env = setEnv(config.Env ?? [], k, substitute(v, envMap(config.Env)));
    else if (keyword === 'LABEL') config.Labels = { ...config.Labels, ...Object.fromEntries(keyValues(args)) };
    else if (keyword === 'ENTRYPOINT') {
      config.Entrypoint = commandOf(args);
      if (cmdFromBase) delete config.Cmd;
    } else if (keyword === 'CMD') {
      config.Cmd = commandOf(args);
      cmdFromBase = false;
    }
  }
  return config;
}

/** `["K=V", ...]` as a map. */
export function envMap(env: readonly string[] = []): Record<string, string> {
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

// --- .dockerignore: Docker's patterns (`*`, `?`, `**`, `!` exceptions; a directory excludes its content) ---

function ignoreRule(pattern: string): { negate: boolean; re: RegExp } {
  const negate = pattern.startsWith('!');
  const glob = pattern.replace(/^!/, '').replace(/^\/+|\/+$/g, '');
  const body = glob
    .split(/(\*\*\/|\*\*|\*|\?)/)
    .map((part) => ({ '**/': '(?:.*/)?', '**': '.*', '*': '[^/]*', '?': '[^/]' })[part] ?? part.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
    .join('');
  return { negate, re: new RegExp(`^${body}$`) };
}

/** A matcher for the paths (relative to the build context) that `.dockerignore` keeps out. */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map(ignoreRule);
  return (path) => {
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let out = false;
    for (const rule of rules) if (prefixes.some((p) => rule.re.test(p))) out = !rule.negate;
    return out;
  };
}
