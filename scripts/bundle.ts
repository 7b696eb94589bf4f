// Bundles the images' entry points into single ESM files under dist/ (`npm run bundle`), so the
// images run plain `node dist/<name>.mjs`: no tsx, no node_modules, about half the memory of
// loading the TypeScript through tsx. Nothing is external; the bundles carry a source map.
// `--cli` builds the `kubevmm` command instead (dist/cli, what bin/kubevmm.js runs): split into
// chunks, so each verb loads only its own modules.
//
//   tsx scripts/bundle.ts [--outdir DIR] [NAME...]    (default: every entry, into dist/)
//   tsx scripts/bundle.ts --cli [--outdir DIR]        (default: dist/cli; `npm ci` runs it)
//   tsx scripts/bundle.ts --ui [--outdir DIR]         (default: dist/ui, the web console; scripts/bundle-ui.ts)
// With no names and no flag, `npm run bundle` builds the images' entries and the web console.

import { access, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { bundleUi } from './bundle-ui.js';

/** One bundle: `<outdir>/<name>.mjs` built from `source` (relative to the repository). */
export interface BundleEntry {
  name: string;
  source: string;
}

/**
 * The bundles the images ship. Each main.ts starts its CLI when it is the main module, which
 * its bundle is, so none needs a separate bin entry.
 */
export const ENTRIES: readonly BundleEntry[] = [
  { name: 'operator', source: 'operator/main.ts' },
  { name: 'deviceplugin', source: 'deviceplugin/main.ts' },
  { name: 'launcher', source: 'launcher/main.ts' },
  { name: 'subresources', source: 'subresource/main.ts' },
  { name: 'ui-server', source: 'ui/server/main.ts' },
];

/** The web console's app (ui/app) goes into `<outdir>/ui/`: `kubevmm ui` serves dist/ui, the image /app/ui. */
export const UI_APP_DIR = 'ui';

/** The repository root (this file lives in scripts/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * CommonJS dependencies (commander, client-node, grpc-js, ...) call `require` for Node's
 * built-ins, which an ES module lacks; esbuild's shim throws "Dynamic require ... is not
 * supported" without a real one in scope.
 */
const REQUIRE_SHIM = "import { createRequire as __kubevmmCreateRequire } from 'node:module';\nconst require = __kubevmmCreateRequire(import.meta.url);";

/** Options of {@link bundle}. */
export interface BundleOptions {
  /** Where the .mjs files go. */
  outDir: string;
  /** Which bundles; default {@link ENTRIES}. */
  entries?: readonly BundleEntry[];
  /** Repository root the sources are relative to; default {@link REPO_ROOT}. */
  root?: string;
}

/** esbuild's options for one entry. */
export function buildOptions(entry: BundleEntry, outDir: string, root: string): BuildOptions {
  return {
    entryPoints: [join(root, entry.source)],
    outfile: join(outDir, `${entry.name}.mjs`),
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: true,
    minify: false,
    banner: { js: REQUIRE_SHIM },
    logLevel: 'warning',
  };
}

/** The kubevmm CLI's entry; its bundle is dist/cli/kubevmm.mjs plus the chunks its verbs load. */
export const CLI_ENTRY: BundleEntry = { name: 'kubevmm', source: 'cli/main.ts' };

/** Where the web console's server serves the app from. */
export const UI_DIR = join(REPO_ROOT, 'dist', 'ui');

/** Where bin/kubevmm.js looks for the CLI bundle. */
export const CLI_DIR = join(REPO_ROOT, 'dist', 'cli');

/**
 * esbuild's options for the CLI: ESM with code splitting, so a dynamic import() of a verb's
 * module becomes a chunk loaded only when that verb runs; minified, because the time to parse
 * the entry chunk is most of the CLI's start-up.
 */
export function cliBuildOptions(outDir: string, root: string): BuildOptions {
  const { outfile: _outfile, ...common } = buildOptions(CLI_ENTRY, outDir, root);
  return {
    ...common,
    entryPoints: { [CLI_ENTRY.name]: join(root, CLI_ENTRY.source) },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    sourcemap: 'linked',
  };
}

/** Builds the CLI into `outDir` (emptied first, so no stale chunk stays); resolves with the entry's path. */
export async function bundleCli(opts: { outDir?: string; root?: string } = {}): Promise<string> {
  const root = opts.root ?? REPO_ROOT;
  const outDir = resolve(opts.outDir ?? CLI_DIR);
  await rm(outDir, { recursive: true, force: true });
  await build(cliBuildOptions(outDir, root));
  return join(outDir, `${CLI_ENTRY.name}.mjs`);
}

/** Picks entries by name; an unknown name is an error that lists the known ones. */
export function selectEntries(names: readonly string[], entries: readonly BundleEntry[] = ENTRIES): BundleEntry[] {
  if (names.length === 0) return [...entries];
  return names.map((name) => {
    const entry = entries.find((e) => e.name === name);
    if (!entry) throw new Error(`unknown bundle ${name}; known: ${entries.map((e) => e.name).join(', ')}`);
    return entry;
  });
}

/** Builds the bundles; resolves with the written .mjs paths. */
export async function bundle(options: BundleOptions): Promise<string[]> {
  const root = options.root ?? REPO_ROOT;
  const entries = options.entries ?? ENTRIES;
  for (const entry of entries) {
    await access(join(root, entry.source)).catch(() => {
      throw new Error(`bundle ${entry.name}: entry point ${entry.source} does not exist`);
    });
  }
  const outDir = resolve(options.outDir);
  await Promise.all(entries.map((entry) => build(buildOptions(entry, outDir, root))));
  return entries.map((entry) => join(outDir, `${entry.name}.mjs`));
}

/** `[--cli | --ui] [--outdir DIR] [NAME...]` into bundle options. */
export function parseArgs(argv: readonly string[]): BundleOptions & { cli: boolean; ui: boolean; withUi: boolean } {
  const names: string[] = [];
  const flags = new Set<string>();
  let outDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--outdir') {
      outDir = argv[++i];
      if (!outDir) throw new Error('--outdir needs a directory');
    } else if (arg === '--cli' || arg === '--ui') {
      flags.add(arg);
    } else if (arg.startsWith('-')) {
      throw new Error(`unknown option ${arg}; usage: bundle [--outdir DIR] [NAME...] | bundle --cli [--outdir DIR] | bundle --ui [--outdir DIR]`);
    } else {
      names.push(arg);
    }
  }
  return resolveArgs({ names, cli: flags.has('--cli'), ui: flags.has('--ui'), outDir });
}

function resolveArgs(a: { names: string[]; cli: boolean; ui: boolean; outDir: string | undefined }): BundleOptions & { cli: boolean; ui: boolean; withUi: boolean } {
  if (a.cli && a.names.length) throw new Error('--cli builds the kubevmm command alone; leave out the names');
  if (a.ui && (a.cli || a.names.length)) throw new Error('--ui builds the web console alone; leave out --cli and the names');
  // A plain `npm run bundle` (no names, no --outdir) also builds the web console into dist/ui.
  const withUi = !a.cli && !a.ui && a.names.length === 0 && a.outDir === undefined;
  const outDir = a.outDir ?? (a.cli ? CLI_DIR : a.ui ? UI_DIR : join(REPO_ROOT, 'dist'));
  return { outDir, entries: selectEntries(a.names), cli: a.cli, ui: a.ui, withUi };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const args = parseArgs(process.argv.slice(2));
    const files = args.cli ? [await bundleCli({ outDir: args.outDir })] : args.ui ? [await bundleUi({ outDir: args.outDir, root: REPO_ROOT })] : await bundle(args);
    if (args.withUi) files.push(await bundleUi({ outDir: UI_DIR, root: REPO_ROOT }));
    for (const file of files) process.stdout.write(`${file}\n`);
  } catch (err) {
    process.stderr.write(`bundle: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
