/**
 * Runs a parsed cluster verb: loads the kubeconfig (context.ts) and the verb's runner, each
 * with a dynamic import, so the bundle puts every runner in its own chunk and a verb loads
 * only what it uses. `create vm` and `image import` without `--apply` need no cluster and load no client.
 *
 * Every runner resolves with the exit code (cli/exit.ts) or throws an error whose message
 * names the fix (main prints it; a VerbError carries its own exit code).
 */
import type { VerbRequest } from './args.js';
import type { ClusterContext } from './context.js';

/** The request of one verb. */
export type RequestOf<V extends VerbRequest['verb']> = Extract<VerbRequest, { verb: V }>;

/**
 * A runner for verb V: the request and the cluster it runs in; resolves with the exit code.
 * The stream verbs' runners have this type too: `runConsole: Runner<'console'>` (console.ts),
 * `runVnc: Runner<'vnc'>` (vnc.ts), `runSsh: Runner<'ssh'>` and
 * `runPortForward: Runner<'port-forward'>` (forward.ts).
 */
export type Runner<V extends VerbRequest['verb']> = (request: RequestOf<V>, ctx: ClusterContext) => Promise<number>;

type ClusterVerb = Exclude<VerbRequest['verb'], 'create-vm' | 'image-import'>;

/** Loads each verb's runner when it runs (the table's type holds each to its verb's Runner). */
const RUNNERS: { [V in ClusterVerb]: () => Promise<Runner<V>> } = {
  start: async () => (await import('./lifecycle.js')).runLifecycle,
  stop: async () => (await import('./lifecycle.js')).runLifecycle,
  restart: async () => (await import('./lifecycle.js')).runLifecycle,
  pause: async () => (await import('./lifecycle.js')).runLifecycle,
  unpause: async () => (await import('./lifecycle.js')).runLifecycle,
  addvolume: async () => (await import('./volumes.js')).runVolume,
  removevolume: async () => (await import('./volumes.js')).runVolume,
  console: async () => (await import('./console.js')).runConsole,
  vnc: async () => (await import('./vnc.js')).runVnc,
  ssh: async () => (await import('./forward.js')).runSsh,
  'port-forward': async () => (await import('./forward.js')).runPortForward,
  'image-upload': async () => (await import('./image.js')).runImageUpload,
  ui: async () => (await import('./ui.js')).runUi,
};

/** The kubeconfig, context and namespace the request names, as kubectl would pick them. */
async function connect(request: VerbRequest): Promise<ClusterContext> {
  const { loadContext } = await import('./context.js');
  return loadContext(request);
}

/** Runs `request`; resolves with the exit code. */
export async function runVerb(request: VerbRequest): Promise<number> {
  if (request.verb === 'create-vm') {
    const { runCreateVm } = await import('./create.js');
    return runCreateVm(request, () => connect(request));
  }
  if (request.verb === 'image-import') {
    const { runImageImport } = await import('./image.js');
    return runImageImport(request, () => connect(request));
  }
  const load = RUNNERS[request.verb] as () => Promise<Runner<typeof request.verb>>;
  const [runner, ctx] = await Promise.all([load(), connect(request)]);
  return runner(request as never, ctx);
}
