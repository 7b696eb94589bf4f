// Tools for operator suites: synchronous kubectl, polling, and the operator as a child
// process (as `npm run operator` runs it). The control plane itself: ./control-plane.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Runs kubectl; throws with its stderr when it fails (unless `allowFail`). */
export function kubectl(args: string[], opts: { input?: string; allowFail?: boolean } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('kubectl', args, { encoding: 'utf8', input: opts.input, env: process.env });
  const out = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (out.code !== 0 && !opts.allowFail) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr}`);
  return out;
}

export { createNamespace } from '../../../harness/e2e-cluster.js';

/** kubectl get -o json, parsed; undefined when the object does not exist. */
export function getJson<T = Record<string, any>>(args: string[]): T | undefined {
  const r = kubectl(['get', ...args, '-o', 'json'], { allowFail: true });
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(r.stderr);
  }
  return JSON.parse(r.stdout) as T;
}

/** Polls `fn` until it returns a truthy value; throws with `what` after `ms`. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The operator as a separate process, as `npm run operator` runs it. */
export interface OperatorProcess {
  child: ChildProcess;
  logs: () => string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the operator with `args` (and `env`, default this process's); its JSON logs are kept for assertions. */
export function startOperator(args: string[], env: NodeJS.ProcessEnv = process.env): OperatorProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'operator/main.ts', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout?.on('data', (c: Buffer) => (logs += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (logs += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    logs: () => logs,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
