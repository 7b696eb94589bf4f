// The `kubevmm` command the way the README has users run it: the CLI bundled from the current
// sources (npm run build:cli, which `npm ci` runs) and the package installed with
// `npm install --global`, here into a temporary prefix, so the suites run its bin/kubevmm link
// directly, without npx or npm run in between (those turn Ctrl-C into npm's own exit code).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleCli, REPO_ROOT } from '../../../scripts/bundle.js';

const run = promisify(execFile);

/** An installed kubevmm: the paths of its executables, and how to remove it. */
export interface InstalledKubevmm {
  bin: string;
  /** The kubectl plugin, `kubectl-vm`, installed beside it. */
  plugin: string;
  remove(): Promise<void>;
}

/** Builds the CLI from the current sources and installs the package into a temporary prefix. */
export async function installKubevmm(): Promise<InstalledKubevmm> {
  await bundleCli();
  const prefix = await mkdtemp(join(tmpdir(), 'kubevmm-prefix-'));
  // A folder install links the checkout; --ignore-scripts: the bundle was just built.
  await run('npm', ['install', '--global', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund', REPO_ROOT], { env: process.env });
  return { bin: join(prefix, 'bin', 'kubevmm'), plugin: join(prefix, 'bin', 'kubectl-vm'), remove: () => rm(prefix, { recursive: true, force: true }) };
}
