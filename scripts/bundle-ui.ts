// The web console's browser bundle (`tsx scripts/bundle.ts --ui`, part of `npm run bundle`):
// ui/app/main.ts into dist/ui/assets/ as hashed ES module chunks and one stylesheet, and
// dist/ui/index.html naming them. Console, VNC and charts are chunks loaded on first use, so the
// inventory's first paint parses only what it needs. Nothing comes from a CDN: every library
// is in the bundle, which the server's CSP (`default-src 'self'`) requires.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { build, type BuildOptions, type Metafile } from 'esbuild';

/** The app's entry and page template, relative to the repository. */
export const UI_ENTRY = { source: 'ui/app/main.ts', template: 'ui/app/index.html' } as const;

/** esbuild's options for the browser bundle. */
export function uiBuildOptions(outDir: string, root: string): BuildOptions {
  return {
    entryPoints: { main: join(root, UI_ENTRY.source) },
    outdir: join(outDir, 'assets'),
    absWorkingDir: root,
    bundle: true,
    platform: 'browser',
    target: ['chrome110', 'firefox115', 'safari16'],
    format: 'esm',
    splitting: true,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunks/[name]-[hash]',
    assetNames: '[name]-[hash]',
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
  };
}

/** The entry's script and stylesheet, relative to `outDir`, from esbuild's metafile. */
export function entryFiles(metafile: Metafile, outDir: string, root: string): { js: string; css: string } {
  for (const [file, out] of Object.entries(metafile.outputs)) {
    if (out.entryPoint !== UI_ENTRY.source) continue;
    if (!out.cssBundle) throw new Error(`bundle ui: ${UI_ENTRY.source} produced no stylesheet`);
    const rel = (f: string) => relative(outDir, resolve(root, f)).split('\\').join('/');
    return { js: rel(file), css: rel(out.cssBundle) };
  }
  throw new Error(`bundle ui: esbuild wrote no output for ${UI_ENTRY.source}`);
}

/** The page with the hashed names filled in (relative, so the app works under any path prefix). */
export function renderIndex(template: string, files: { js: string; css: string }): string {
  for (const mark of ['{{js}}', '{{css}}']) if (!template.includes(mark)) throw new Error(`bundle ui: ${UI_ENTRY.template} lacks ${mark}`);
  return template.replace('{{js}}', files.js).replace('{{css}}', files.css);
}

/** Builds the app into `outDir` (emptied first); resolves with index.html's path. */
export async function bundleUi(opts: { outDir: string; root: string }): Promise<string> {
  const outDir = resolve(opts.outDir);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build(uiBuildOptions(outDir, opts.root));
  const files = entryFiles(result.metafile!, outDir, opts.root);
  const index = join(outDir, 'index.html');
  await writeFile(index, renderIndex(await readFile(join(opts.root, UI_ENTRY.template), 'utf8'), files));
  return index;
}
