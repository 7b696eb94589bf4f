/**
 * `start`, `stop`, `restart`, `pause`, `unpause`: each a spec edit (patches.ts) sent as the
 * calling user, then a wait with a live progress line until the VM is in the state asked for
 * (edit-flow.ts).
 */
import type { VerbRequest } from './args.js';
import type { ClusterContext } from './context.js';
import { runEditFlow } from './edit-flow.js';
import { processOutput, type Output } from './progress.js';
import { pauseEdit, restartEdit, startEdit, stopEdit, type Edit } from '../../api/vm-edits.js';
import { VmClient, type VmObject } from './vm-api.js';

/** The parsed lifecycle verbs. */
export type LifecycleRequest = Extract<VerbRequest, { verb: 'start' | 'stop' | 'restart' | 'pause' | 'unpause' }>;

/** The edit `request` makes to `vm`; `now` stamps start and restart requests. */
export function lifecycleEdit(request: LifecycleRequest, vm: VmObject, now: Date): Edit {
  switch (request.verb) {
    case 'start':
      return startEdit(vm, now);
    case 'stop':
      return stopEdit(vm, { ...(request.grace === undefined ? {} : { grace: request.grace }), force: request.force });
    case 'restart':
      return restartEdit(vm, now);
    case 'pause':
      return pauseEdit(vm, true);
    case 'unpause':
      return pauseEdit(vm, false);
  }
}

/** Runs a lifecycle verb against the cluster of `ctx`; resolves with the exit code. */
export function runLifecycle(request: LifecycleRequest, ctx: ClusterContext, io: Output = processOutput()): Promise<number> {
  const now = new Date();
  return runEditFlow({ client: new VmClient(ctx, request.name), verb: request.verb, edit: (vm) => lifecycleEdit(request, vm, now), wait: request, io });
}
