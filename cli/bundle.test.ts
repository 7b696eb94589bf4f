// The images run `node /app/<name>.mjs` with no node_modules and no tsx beside it: build the
// bundles the way `npm run bundle` does, copy nothing else, and start them from a directory
// outside the repository, where a dependency left out of a bundle could not be resolved.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { CLI_DIR, ENTRIES, REPO_ROOT, UI_DIR, bundle, bundleCli, cliBuildOptions, parseArgs, selectEntries } from '../scripts/bundle.js';

const exec = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node <bundle> ...args` in `cwd`; resolves with the exit code and output. */
async function runBundle(file: string, args: string[], cwd: string): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [file, ...args], { cwd, env: { PATH: process.env.PATH ?? '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('the image bundles', () => {
  let dir: string;
  let files: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-bundle-'));
    files = await bundle({ outDir: dir });
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one .mjs and its source map per entry', async () => {
    expect(files).toEqual(ENTRIES.map((e) => join(dir, `${e.name}.mjs`)));
    const map = JSON.parse(await readFile(join(dir, 'launcher.mjs.map'), 'utf8')) as { sources: string[] };
    expect(map.sources.some((s) => s.endsWith('launcher/main.ts'))).toBe(true);
  });

  it('starts the launcher without tsx or node_modules and prints its commands', async () => {
    const run = await runBundle(join(dir, 'launcher.mjs'), ['--help'], dir);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^Usage: launcher/);
    expect(run.stdout).toMatch(/^\s+run \[options\]/m);
    expect(run.stdout).toMatch(/^\s+console \[options\]/m);
  }, 60_000);

  it('runs the launcher code path: a missing VM file ends with InvalidVmFile in the termination log', async () => {
    const log = join(dir, 'termination-log');
    const run = await runBundle(join(dir, 'launcher.mjs'), ['run', '--vm', join(dir, 'absent.json'), '--termination-log', log], dir);
    expect(run.code).toBe(1);
    expect(await readFile(log, 'utf8')).toMatch(/^InvalidVmFile: cannot read the vm description .*absent\.json/);
  }, 60_000);

  it('starts the operator (client-node, pino, commander bundled) and prints its options', async () => {
    const run = await runBundle(join(dir, 'operator.mjs'), ['--help'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--launcher-image <image>/);
  }, 60_000);

  it('starts the device plugin (grpc-js, proto-loader bundled) and prints its options', async () => {
    const run = await runBundle(join(dir, 'deviceplugin.mjs'), ['--help'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--plugin-dir <dir>/);
  }, 60_000);
});

/** The source files an output loads, following its static imports (what runs before any dynamic import). */
function staticInputs(meta: Metafile, output: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  if (seen.has(output)) return out;
  seen.add(output);
  const entry = meta.outputs[output];
  if (!entry) return out;
  Object.keys(entry.inputs).forEach((i) => out.add(i));
  for (const imp of entry.imports.filter((x) => x.kind === 'import-statement')) staticInputs(meta, imp.path, seen).forEach((i) => out.add(i));
  return out;
}

describe('the kubevmm CLI bundle', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubevmm-cli-bundle-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs validate from the bundle alone: no tsx, no node_modules; a usage error exits 2', async () => {
    const entry = await bundleCli({ outDir: join(dir, 'cli') });
    const ok = await runBundle(entry, ['validate', join(REPO_ROOT, 'examples', 'minimal.yaml')], dir);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toMatch(/minimal\.yaml:3: VirtualMachine default\/minimal: valid/);
    expect((await runBundle(entry, ['validate'], dir)).code).toBe(2);
    expect((await runBundle(entry, ['validate', join(dir, 'absent.yaml')], dir)).code).toBe(1);
  }, 120_000);

  it('loads the launcher, the pod renderer and the Kubernetes client only in the verbs that need them', async () => {
    const result = await build({ ...cliBuildOptions(join(dir, 'meta'), REPO_ROOT), metafile: true, write: false });
    const meta = result.metafile;
    const entry = Object.keys(meta.outputs).find((o) => o.endsWith('kubevmm.mjs'));
    const atStart = [...staticInputs(meta, entry ?? '')];
    expect(atStart.some((i) => i.startsWith('cli/program.ts'))).toBe(true);
    expect(atStart.filter((i) => /^(launcher|operator\/render)\/|@kubernetes\/client-node|node_modules\/yaml\//.test(i))).toEqual([]);
    // validate: what its dynamic imports load, on top of the entry.
    const chunkOf = (source: string) => Object.entries(meta.outputs).find(([file, o]) => o.entryPoint === source && file.endsWith('.mjs'))?.[0];
    const validateChunks = ['cli/validate.ts', 'cli/load.ts'].map(chunkOf);
    expect(validateChunks.every(Boolean)).toBe(true);
    const validateLoads = validateChunks.flatMap((c) => [...staticInputs(meta, c ?? '')]);
    expect(validateLoads.some((i) => i.startsWith('api/validate.ts'))).toBe(true);
    expect(validateLoads.filter((i) => /^(launcher|operator\/render)\/|@kubernetes\/client-node/.test(i))).toEqual([]);
    expect(Object.keys(meta.inputs).some((i) => i.startsWith('launcher/runtime/'))).toBe(true); // play has it, in its own chunk
    // The cluster verbs: only their parsing (args.ts, image-args.ts, ui-args.ts: commander alone) is in the
    // entry; validate loads none of their modules; the client comes with the runners, and
    // `create vm` and `image import` without --apply do without it.
    const cluster = (inputs: string[]) => inputs.filter((i) => i.startsWith('cli/cluster/') || i.includes('@kubernetes/client-node'));
    expect(cluster(atStart).sort()).toEqual(['cli/cluster/args.ts', 'cli/cluster/image-args.ts', 'cli/cluster/ui-args.ts']);
    expect(cluster(validateLoads)).toEqual([]);
    const loads = (source: string) => [...staticInputs(meta, chunkOf(source) ?? '')];
    expect(loads('cli/cluster/lifecycle.ts').some((i) => i.includes('@kubernetes/client-node'))).toBe(true);
    expect(loads('cli/cluster/volumes.ts').some((i) => i.includes('@kubernetes/client-node'))).toBe(true);
    expect(loads('cli/cluster/create.ts').filter((i) => i.includes('@kubernetes/client-node') || i === 'cli/cluster/vm-api.ts')).toEqual([]);
    expect(loads('cli/cluster/image.ts').filter((i) => i.includes('@kubernetes/client-node') || i === 'cli/cluster/image-api.ts')).toEqual([]);
    expect(loads('cli/cluster/run.ts').filter((i) => i.includes('@kubernetes/client-node'))).toEqual([]);
  }, 120_000);

  it('is where bin/kubevmm.js looks for it', () => {
    expect(CLI_DIR).toBe(join(REPO_ROOT, 'dist', 'cli'));
  });

  it('calls itself `kubectl vm` when kubectl runs it as the kubectl-vm plugin', async () => {
    const entry = await bundleCli({ outDir: join(dir, 'plugin') });
    const plugin = join(dir, 'kubectl-vm.mjs');
    await writeFile(plugin, `import ${JSON.stringify(entry)};\n`);
    const help = await runBundle(plugin, ['--help'], dir);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: kubectl vm \[options\] \[command\]/);
    expect(help.stdout).toMatch(/^\s+stop \[options\] <name>/m);
    const usage = await runBundle(plugin, ['stop'], dir);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument 'name'/);
  }, 120_000);
});

describe('bundle arguments', () => {
  it('selects entries by name and rejects unknown ones with the known list', () => {
    expect(selectEntries(['launcher']).map((e) => e.name)).toEqual(['launcher']);
    expect(() => selectEntries(['laucher'])).toThrow(/unknown bundle laucher; known: operator, deviceplugin, launcher/);
  });

  it('reads --outdir and names; a stray option is an error with the usage', () => {
    expect(parseArgs(['--outdir', '/tmp/x', 'operator'])).toMatchObject({ outDir: '/tmp/x', entries: [{ name: 'operator' }] });
    expect(() => parseArgs(['--out', 'x'])).toThrow(/unknown option --out; usage: bundle \[--outdir DIR\] \[NAME\.\.\.\]/);
    expect(parseArgs(['--cli'])).toMatchObject({ cli: true, outDir: CLI_DIR });
    expect(() => parseArgs(['--cli', 'operator'])).toThrow(/--cli builds the kubevmm command alone/);
    expect(() => parseArgs(['--outdir'])).toThrow(/--outdir needs a directory/);
  });

  it('builds the web console with --ui, and alongside the images on a plain `npm run bundle`', () => {
    expect(parseArgs(['--ui'])).toMatchObject({ ui: true, outDir: UI_DIR, withUi: false });
    expect(parseArgs([])).toMatchObject({ withUi: true });
    expect(parseArgs(['operator'])).toMatchObject({ withUi: false });
    expect(() => parseArgs(['--ui', 'operator'])).toThrow(/--ui builds the web console alone/);
  });
});
