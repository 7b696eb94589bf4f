/**
 * `addvolume` and `removevolume`: a hotpluggable PVC disk added to or taken out of
 * `spec.disks` (a JSON patch that tests the resourceVersion read, patches.ts), then a wait
 * until the operator reports the disk Attached, or gone from status (edit-flow.ts).
 */
import type { VerbRequest } from './args.js';
import type { ClusterContext } from './context.js';
import { runEditFlow } from './edit-flow.js';
import { processOutput, type Output } from './progress.js';
import { addVolumeEdit, removeVolumeEdit, type Edit } from '../../api/vm-edits.js';
import { VmClient, type VmObject } from './vm-api.js';

/** The parsed volume verbs. */
export type VolumeRequest = Extract<VerbRequest, { verb: 'addvolume' | 'removevolume' }>;

/** The edit `request` makes to `vm`. */
export function volumeEdit(request: VolumeRequest, vm: VmObject): Edit {
  if (request.verb === 'removevolume') return removeVolumeEdit(vm, request.disk);
  return addVolumeEdit(vm, { claim: request.claim, ...(request.disk ? { name: request.disk } : {}), ...(request.bus ? { bus: request.bus } : {}) });
}

/** Runs a volume verb against the cluster of `ctx`; resolves with the exit code. */
export function runVolume(request: VolumeRequest, ctx: ClusterContext, io: Output = processOutput()): Promise<number> {
  return runEditFlow({ client: new VmClient(ctx, request.name), verb: request.verb, edit: (vm) => volumeEdit(request, vm), wait: request, io });
}
