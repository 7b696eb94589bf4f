// Runs the helm binary the project builds with its local control plane (test/cluster), and
// parses what `helm template` renders. A missing helm fails the suite with the build hint.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

/** The chart under test. */
export const CHART_DIR = join(process.cwd(), 'helm', 'kubevmm');
/** The Kubernetes version of the local control plane (helm template needs one offline). */
export const KUBE_VERSION = '1.37.2';

/** A rendered Kubernetes object, loosely typed. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** The directory holding the project's helm, from `cluster.sh env`; throws with the build hint. */
export function helmBinDir(): string {
  const env = spawnSync('bash', ['test/cluster/cluster.sh', 'env'], { encoding: 'utf8' });
  const dir = /^export PATH=(.*):\$PATH$/m.exec(env.stdout ?? '')?.[1];
  if (!dir || !existsSync(join(dir, 'helm'))) {
    throw new Error('helm is not built: run `bash test/cluster/cluster.sh build` (builds kube-apiserver, kubectl and helm from Go modules; see test/cluster/README.md)');
  }
  return dir;
}

/** Runs helm with the given arguments; rejects with helm's stderr. */
export async function helm(...args: string[]): Promise<string> {
  const bin = join(helmBinDir(), 'helm');
  try {
    return (await run(bin, args, { env: process.env, maxBuffer: 32 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(' ')} failed: ${e.stderr || e.message}`, { cause: err });
  }
}

/** `helm template` of the chart with `--set` values; returns the rendered objects. */
export async function template(set: Record<string, string | number | boolean> = {}, namespace = 'kubevmm-system'): Promise<Manifest[]> {
  const sets = Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${String(v)}`]);
  const out = await helm('template', 'kubevmm', CHART_DIR, '--namespace', namespace, '--kube-version', KUBE_VERSION, ...sets);
  return parseAllDocuments(out)
    .map((doc) => doc.toJSON() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/** The one object of `kind` (and `name`, when several), or a thrown error listing what exists. */
export function pick(objects: Manifest[], kind: string, name?: string): Manifest {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found[0]!;
}
