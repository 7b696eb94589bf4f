/**
 * The shape every declarative verb shares (start, stop, restart, pause, unpause, addvolume,
 * removevolume): read the VM, work out the edit (patches.ts), send it, then unless --no-wait
 * watch the VM with a live progress line until the goal. The final state goes to stdout
 * (`vm/web-1: Stopped`); progress to stderr. A failure throws a {@link VerbError} with its
 * exit code: 1 failed (the reason), 3 timed out (what the VM was last seen doing).
 */
import { EXIT, VerbError } from '../exit.js';
import { ClusterError } from './api-errors.js';
import type { WaitFlags } from './args.js';
import type { Edit, Goal, VmPatch } from '../../api/vm-edits.js';
import { printable, ProgressLine, type Output } from './progress.js';
import type { VmObject } from './vm-api.js';
import { waitForGoal, type VmFeed } from './wait.js';

/** The VM calls a flow makes (vm-api.ts's VmClient; a test's own in unit tests). */
export interface VmEditor extends VmFeed {
  readonly name: string;
  get(): Promise<VmObject>;
  patch(patch: VmPatch): Promise<VmObject>;
}

/** One declarative verb. */
export interface EditFlow {
  client: VmEditor;
  /** The verb, for messages. */
  verb: string;
  /** The edit for the VM as read (may throw patches.ts's EditRefused). */
  edit(vm: VmObject): Edit;
  wait: WaitFlags;
  io: Output;
}

/** How often an edit is worked out again when the VM changed between the read and the patch. */
const CONFLICT_RETRIES = 3;

/** What the verb waits for, in words: "Stopped", "disk data Attached". */
export function goalText(goal: Goal): string {
  switch (goal.kind) {
    case 'status':
      return goal.printableStatus;
    case 'restarted':
      return 'restarted and Running';
    case 'disk-attached':
      return `disk ${goal.disk} Attached`;
    case 'disk-gone':
      return `disk ${goal.disk} removed`;
  }
}

/**
 * Sends the edit. A JSON patch tests the resourceVersion it was worked out from, so a VM
 * changed in between makes the API server refuse it (422); then the edit is worked out again
 * from the VM as it is now, a few times, and a refusal with the VM unchanged is the answer.
 */
async function send(flow: EditFlow, vm: VmObject): Promise<{ edit: Edit; vm: VmObject }> {
  let current = vm;
  for (let attempt = 0; ; attempt++) {
    const edit = flow.edit(current);
    if (!edit.patch) return { edit, vm: current };
    try {
      return { edit, vm: await flow.client.patch(edit.patch) };
    } catch (err) {
      if (!(err instanceof ClusterError && err.code === 422 && edit.patch.type === 'json') || attempt >= CONFLICT_RETRIES) throw err;
      const now = await flow.client.get();
      if (now.metadata.resourceVersion === current.metadata.resourceVersion) throw err;
      current = now;
    }
  }
}

/** Runs the verb; resolves with 0 when done, throws a VerbError (or ClusterError) otherwise. */
export async function runEditFlow(flow: EditFlow): Promise<number> {
  const name = flow.client.name;
  const { edit, vm } = await send(flow, await flow.client.get());
  const goal = goalText(edit.goal);
  if (!flow.wait.wait) {
    const change = edit.patch ? `${flow.verb} requested` : `nothing to change for ${flow.verb}`;
    flow.io.out.write(`vm/${name}: ${change}; now ${vm.status?.printableStatus ?? 'Unknown'} (not waiting for ${goal})\n`);
    return EXIT.ok;
  }
  const progress = new ProgressLine(flow.io.err);
  const outcome = await waitForGoal({
    feed: flow.client,
    goal: edit.goal,
    ...(vm.metadata.generation === undefined ? {} : { generation: vm.metadata.generation }),
    timeoutMs: flow.wait.timeout * 1000,
    onProgress: (line) => progress.show(line),
  });
  progress.end();
  if (outcome.state === 'reached') {
    flow.io.out.write(`vm/${printable(outcome.line)}\n`);
    return EXIT.ok;
  }
  const line = printable(outcome.line);
  if (outcome.state === 'timedOut') {
    throw new VerbError(`timed out after ${flow.wait.timeout}s waiting for vm/${name} to be ${goal}; last seen: ${line.startsWith(`${name}:`) ? `vm/${line}` : line}`, EXIT.timedOut);
  }
  throw new VerbError(`${flow.verb} vm/${name} failed: ${line}`);
}
