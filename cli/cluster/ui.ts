/**
 * `kubevmm ui`: the web console on a loopback port, talking to the cluster with the
 * kubeconfig's credentials (ui/server, local mode; docs/ui.md). The app is the bundle's
 * `dist/ui/` (built by `npm run bundle`), found beside the CLI's own bundle; `KUBEVMM_UI_DIR`
 * points elsewhere (a development build of the app).
 *
 * The address carries the session token, so it is never put on a command line other local
 * users could read in `ps`: the browser is given a private file (0600, in a 0700 directory)
 * that forwards to the address.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUiServer } from '../../ui/server/server.js';
import { EXIT, VerbError } from '../exit.js';
import type { ClusterContext } from './context.js';
import type { UiRequest } from './ui-args.js';

/** The directory holding package.json above `from`: the repository, or the installed package. */
export function packageRoot(from: string, exists: (file: string) => boolean = existsSync): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (exists(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Where the app's files are: $KUBEVMM_UI_DIR, else `dist/ui` of the package this CLI runs from. */
export function appDir(env: NodeJS.ProcessEnv = process.env, from = dirname(fileURLToPath(import.meta.url)), exists: (file: string) => boolean = existsSync): string {
  const dir = env.KUBEVMM_UI_DIR || join(packageRoot(from, exists) ?? from, 'dist', 'ui');
  if (!exists(join(dir, 'index.html'))) {
    const fix = env.KUBEVMM_UI_DIR ? 'point KUBEVMM_UI_DIR at a built app' : 'build it with: npm run bundle';
    throw new VerbError(`the web console's app is not built (${join(dir, 'index.html')} is missing); ${fix}`);
  }
  return dir;
}

/** The version of the package this CLI runs from, for the app's footer. */
export function packageVersion(from = dirname(fileURLToPath(import.meta.url))): string {
  const root = packageRoot(from);
  if (!root) return 'unknown';
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The browser opener of this platform, if it has one. */
export function openerOf(platform: NodeJS.Platform): string | undefined {
  if (platform === 'darwin') return 'open';
  if (platform === 'win32') return undefined;
  return 'xdg-open';
}

/** A page that forwards to `url` (no script: a meta refresh), for the browser to open as a file. */
export function forwardPage(url: string): string {
  const safe = url.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>\n<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${safe}"><title>kubevmm ui</title></head><body><a href="${safe}">Open the kubevmm web console</a></body></html>\n`;
}

/** Tries to open a browser on `url`; never fails (no opener, no display: the printed address is enough). Resolves with a clean-up. */
export async function openBrowser(url: string, platform: NodeJS.Platform = process.platform): Promise<() => Promise<void>> {
  const opener = openerOf(platform);
  if (!opener) return async () => undefined;
  try {
    const dir = await mkdtemp(join(tmpdir(), 'kubevmm-ui-'));
    await chmod(dir, 0o700);
    const file = join(dir, 'open.html');
    await writeFile(file, forwardPage(url), { mode: 0o600 });
    const child = spawn(opener, [file], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
    return () => rm(dir, { recursive: true, force: true });
  } catch {
    return async () => undefined;
  }
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Runs the console until Ctrl-C; resolves with the exit code. */
export async function runUi(request: UiRequest, ctx: ClusterContext): Promise<number> {
  const staticDir = appDir();
  const user = ctx.kubeconfig.getCurrentUser()?.name;
  const server = await startUiServer({
    mode: 'local',
    staticDir,
    kubeConfig: ctx.kubeconfig,
    namespace: ctx.namespace,
    ...(user ? { user } : {}),
    version: packageVersion(),
    port: request.port,
    address: request.address,
  }).catch((err: unknown) => {
    throw new VerbError(err instanceof Error ? err.message : String(err));
  });
  console.log(`kubevmm ui: the web console for context ${ctx.contextName} (namespace ${ctx.namespace}) is at`);
  console.log(`  ${server.url}`);
  console.log('The address carries your session token: keep it to yourself. Ctrl-C stops the server.');
  const cleanUp = request.open ? await openBrowser(server.url) : async () => undefined;
  await untilStopped();
  await Promise.all([server.close(), cleanUp()]);
  return EXIT.ok;
}
