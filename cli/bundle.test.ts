// The images run `node /app/<name>.mjs` with no node_modules and no tsx beside it: build the
// bundles the way `npm run bundle` does, copy nothing else, and start them from a directory
// outside the repository, where a dependency left out of a bundle could not be resolved.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ENTRIES, bundle, parseArgs, selectEntries } from '../scripts/bundle.js';

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

describe('bundle arguments', () => {
  it('selects entries by name and rejects unknown ones with the known list', () => {
    expect(selectEntries(['launcher']).map((e) => e.name)).toEqual(['launcher']);
    expect(() => selectEntries(['laucher'])).toThrow(/unknown bundle laucher; known: operator, deviceplugin, launcher/);
  });

  it('reads --outdir and names; a stray option is an error with the usage', () => {
    expect(parseArgs(['--outdir', '/tmp/x', 'operator'])).toMatchObject({ outDir: '/tmp/x', entries: [{ name: 'operator' }] });
    expect(() => parseArgs(['--out', 'x'])).toThrow(/unknown option --out; usage: bundle \[--outdir DIR\] \[NAME\.\.\.\]/);
    expect(() => parseArgs(['--outdir'])).toThrow(/--outdir needs a directory/);
  });
});
