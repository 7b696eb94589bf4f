// The launcher as its own Node process, the way a launcher pod runs it (`launcher run` with
// the control API), so its RSS can be read from /proc without the benchmark's own memory.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { LauncherVm } from '../../api/resolve.js';
import { testAuthority, writeLauncherCredentials } from '../../harness/pki.js';
import { childPids } from './proc.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/**
 * How the launcher's TypeScript is loaded: `tsx` compiles it at start-up in a loader thread
 * (what `kubevmm play` does); `bundle` runs one plain-JS file built by esbuild (what an image
 * would ship).
 */
export type Loader = 'tsx' | 'bundle';

/** Build launcher/main.ts into one ES module; resolves with its path. */
export async function bundleLauncher(outDir: string): Promise<string> {
  const out = join(outDir, 'launcher.mjs');
  // Bundled CommonJS dependencies (commander) call require(); ESM output has none by itself.
  const banner = "import { createRequire as kubevmmCreateRequire } from 'node:module'; const require = kubevmmCreateRequire(import.meta.url);";
  const args = ['launcher/main.ts', '--bundle', '--platform=node', '--format=esm', '--target=node20', `--outfile=${out}`, `--banner:js=${banner}`, '--log-level=error'];
  await run(join(ROOT, 'node_modules/.bin/esbuild'), args, { cwd: ROOT });
  return out;
}

/** Options of {@link spawnLauncher}. */
export interface LauncherProcessOptions {
  loader: Loader;
  /** The bundle from {@link bundleLauncher}, for loader `bundle`. */
  bundle?: string;
  /** Extra node options, e.g. `--max-old-space-size=32`. */
  nodeFlags: readonly string[];
  vm: LauncherVm;
  image: string;
  /** Directory for the VM file, the control API's credentials and the runtime directory. */
  dir: string;
}

/** A launcher process and where its QEMU writes the serial log. */
export interface LauncherProcess {
  child: ChildProcess;
  exited: Promise<void>;
  serialLog: string;
  /** The last lines the launcher wrote to stderr. */
  stderr: () => string;
}

function entry(options: LauncherProcessOptions): string[] {
  if (options.loader === 'tsx') return ['--import', 'tsx', join(ROOT, 'launcher/main.ts')];
  if (!options.bundle) throw new Error('loader bundle needs the bundle path');
  return [options.bundle];
}

/** Start `launcher run` for the VM, with the control API on a free local port. */
export async function spawnLauncher(options: LauncherProcessOptions): Promise<LauncherProcess> {
  const { dir } = options;
  const runtimeDir = join(dir, 'run');
  await writeFile(join(dir, 'vm.json'), JSON.stringify(options.vm));
  // The control API serves mutual TLS only, as in a pod: credentials from a throwaway CA.
  const tls = await writeLauncherCredentials(await testAuthority('bench-launcher-ca'), { name: options.vm.name, namespace: options.vm.namespace, uid: options.vm.uid ?? 'bench' }, join(dir, 'credentials'));
  const args = [
    ...options.nodeFlags,
    ...entry(options),
    'run',
    ...['--vm', join(dir, 'vm.json'), '--disk', `root=${options.image}`, '--accel', 'tcg'],
    ...['--runtime-dir', runtimeDir, '--termination-log', join(dir, 'termination-log')],
    ...['--control-port', '0', '--control-host', '127.0.0.1', '--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--client-ca', tls.clientCaFile],
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((done) => child.once('close', () => done()));
  return { child, exited, serialLog: join(runtimeDir, 'serial.log'), stderr: () => tail };
}

async function command(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
}

/** The launcher's children: its QEMU, and any helper (e.g. an esbuild service under tsx). */
export async function launcherChildren(pid: number): Promise<{ qemu?: number; helpers: number[] }> {
  const children = await childPids(pid);
  const names = await Promise.all(children.map(command));
  const qemu = children.find((_, i) => names[i]?.startsWith('qemu-system'));
  return { ...(qemu ? { qemu } : {}), helpers: children.filter((c) => c !== qemu) };
}
