/**
 * Token files of kubeconfig users (`tokenFile`, as kubectl writes and reads them). The
 * Kubernetes client only knows a `token-file` key and keeps the file's trailing newline, which
 * makes an invalid Authorization header; kubectl reads `tokenFile` and trims it. This gives the
 * current context's user its file's token the way kubectl does, for every cluster verb.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { KubeConfig, User } from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { ClusterFlags } from './args.js';

/** The kubeconfig files kubectl reads for `flags`: --kubeconfig, else $KUBECONFIG's list, else ~/.kube/config. */
export function kubeconfigFiles(flags: ClusterFlags, env: NodeJS.ProcessEnv = process.env, home = homedir()): string[] {
  if (flags.kubeconfig) return [flags.kubeconfig];
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).filter(Boolean);
  return [join(home, '.kube', 'config')];
}

/** Users with a token file in one kubeconfig's text: name -> absolute path (relative to the file, as kubectl resolves it). */
export function tokenFilesOf(text: string, file: string): Map<string, string> {
  const found = new Map<string, string>();
  const doc = parse(text) as { users?: { name?: unknown; user?: Record<string, unknown> }[] } | null;
  for (const entry of doc?.users ?? []) {
    const path = entry.user?.tokenFile ?? entry.user?.['token-file'];
    if (typeof entry.name !== 'string' || typeof path !== 'string' || !path || entry.user?.token) continue;
    found.set(entry.name, isAbsolute(path) ? path : join(dirname(file), path));
  }
  return found;
}

/**
 * Sets the current context's user's token from its token file, trimmed; throws naming the user
 * and file when it cannot be read. Only that user's: as kubectl, a missing file of a user no
 * context in use names is no error. Call it once the current context is final (--context).
 */
export function applyTokenFiles(kubeconfig: KubeConfig, files: readonly string[]): void {
  const user = kubeconfig.getCurrentUser();
  if (!user) return;
  let path: string | undefined;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // loadFromFile has already said what is wrong with a kubeconfig it needed.
    }
    path = tokenFilesOf(text, file).get(user.name);
    if (path) break; // the first file naming the user wins, as kubectl merges them
  }
  if (!path) return;
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new Error(`user "${user.name}": cannot read its tokenFile ${path}: ${(err as Error).message}`, { cause: err });
  }
  (user as { token?: User['token'] }).token = token;
}
