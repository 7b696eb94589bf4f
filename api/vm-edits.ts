/**
 * What each declarative verb changes in a VirtualMachine (design decision 2: every action is
 * a spec edit; the CLI and the web console are sugar over these builders), and the state it then waits for. Pure: the VM as read, the
 * verb and the time in; a patch and a goal out, or a refusal that names the fix.
 *
 * start/stop/restart/pause/unpause are merge patches of scalar fields. addvolume and
 * removevolume edit the `spec.disks` list, so they are JSON patches that first test the
 * resourceVersion read: a concurrent edit makes the API server refuse (409) instead of one
 * edit silently replacing the other.
 */
import type { RunStrategy } from './schema/vm.js';

/** The fields of a VM the verbs read. */
export interface VmView {
  metadata: { name: string; resourceVersion?: string };
  spec: {
    runStrategy?: RunStrategy;
    paused?: boolean;
    restartRequestedAt?: string;
    disks?: readonly { name: string; hotpluggable?: boolean; persistentVolumeClaim?: { claimName: string } }[];
  };
  status?: { printableStatus?: string; lastRestartRequestedAt?: string; disks?: readonly { name: string; phase: string; message?: string }[] };
}

/** One JSON patch operation (RFC 6902) as the verbs use them. */
export type JsonPatchOp = { op: 'test' | 'add'; path: string; value: unknown } | { op: 'remove'; path: string };

/** A patch to send: merge (`application/merge-patch+json`) or JSON (`application/json-patch+json`). */
export type VmPatch = { type: 'merge'; body: { spec: Record<string, unknown> } } | { type: 'json'; body: JsonPatchOp[] };

/** What the verb waits for after its patch. */
export type Goal =
  | { kind: 'status'; printableStatus: string }
  | { kind: 'restarted'; requestedAt: string }
  | { kind: 'disk-attached'; disk: string }
  | { kind: 'disk-gone'; disk: string };

/** A verb's edit: the patch (none when the VM already is as asked) and the goal. */
export interface Edit {
  patch?: VmPatch;
  goal: Goal;
}

/** The VM cannot be edited as asked; the message names the fix. */
export class EditRefused extends Error {
  override readonly name = 'EditRefused';
}

const merge = (spec: Record<string, unknown>): VmPatch => ({ type: 'merge', body: { spec } });

/**
 * start: Halted becomes Always; a Manual VM (and a Once VM that has run) is started with a
 * restart request; a VM meant to run already is left as it is.
 */
export function startEdit(vm: VmView, now: Date): Edit {
  const goal: Goal = { kind: 'status', printableStatus: 'Running' };
  const strategy = vm.spec.runStrategy ?? 'Always';
  if (strategy === 'Halted') return { patch: merge({ runStrategy: 'Always' }), goal };
  if (strategy === 'Manual' || (strategy === 'Once' && vm.status?.printableStatus === 'Stopped')) {
    return { patch: merge({ restartRequestedAt: now.toISOString() }), goal };
  }
  return { goal };
}

/** Options of `stop`. */
export interface StopOptions {
  /** Seconds the guest gets to power off; also kept as the VM's terminationGracePeriodSeconds. */
  grace?: number;
  /** No grace: QEMU quits at once (grace 0). */
  force?: boolean;
}

/** stop: runStrategy Halted, with the grace period when one is given. */
export function stopEdit(_vm: VmView, options: StopOptions = {}): Edit {
  if (options.force && options.grace !== undefined && options.grace !== 0) throw new EditRefused(`--force means no grace period; drop --grace ${options.grace} or --force`);
  const grace = options.force ? 0 : options.grace;
  return { patch: merge({ runStrategy: 'Halted', ...(grace === undefined ? {} : { terminationGracePeriodSeconds: grace }) }), goal: { kind: 'status', printableStatus: 'Stopped' } };
}

/** restart: a new restart request; done when the VM recorded it and runs again. */
export function restartEdit(vm: VmView, now: Date): Edit {
  if ((vm.spec.runStrategy ?? 'Always') === 'Halted') throw new EditRefused(`VM ${vm.metadata.name} is Halted, so there is nothing to restart: start it with \`kubevmm start ${vm.metadata.name}\``);
  const requestedAt = now.toISOString();
  return { patch: merge({ restartRequestedAt: requestedAt }), goal: { kind: 'restarted', requestedAt } };
}

/** pause / unpause: `spec.paused`. */
export function pauseEdit(vm: VmView, paused: boolean): Edit {
  const goal: Goal = { kind: 'status', printableStatus: paused ? 'Paused' : 'Running' };
  if (paused && (vm.spec.runStrategy ?? 'Always') === 'Halted') throw new EditRefused(`VM ${vm.metadata.name} is Halted: there is nothing to pause; start it first`);
  return (vm.spec.paused ?? false) === paused ? { goal } : { patch: merge({ paused }), goal };
}

function guarded(vm: VmView, ops: JsonPatchOp[]): VmPatch {
  const rv = vm.metadata.resourceVersion;
  return { type: 'json', body: rv ? [{ op: 'test', path: '/metadata/resourceVersion', value: rv }, ...ops] : ops };
}

/** Options of `addvolume`. */
export interface AddVolumeOptions {
  claim: string;
  /** The disk's name; default the claim's. */
  name?: string;
  bus?: 'virtio' | 'scsi' | 'sata';
}

/** addvolume: a hotpluggable PVC disk appended to `spec.disks`. */
export function addVolumeEdit(vm: VmView, options: AddVolumeOptions): Edit {
  const name = options.name ?? options.claim;
  const disks = vm.spec.disks ?? [];
  if (disks.some((d) => d.name === name)) throw new EditRefused(`VM ${vm.metadata.name} already has a disk named ${name}: give another with --name`);
  const holder = disks.find((d) => d.persistentVolumeClaim?.claimName === options.claim);
  if (holder) throw new EditRefused(`claim ${options.claim} is already disk ${holder.name} of VM ${vm.metadata.name}`);
  const disk = { name, hotpluggable: true, ...(options.bus ? { bus: options.bus } : {}), persistentVolumeClaim: { claimName: options.claim } };
  const ops: JsonPatchOp[] = disks.length ? [{ op: 'add', path: '/spec/disks/-', value: disk }] : [{ op: 'add', path: '/spec/disks', value: [disk] }];
  return { patch: guarded(vm, ops), goal: { kind: 'disk-attached', disk: name } };
}

/** removevolume: a hotpluggable disk taken out of `spec.disks` (the operator detaches it live). */
export function removeVolumeEdit(vm: VmView, disk: string): Edit {
  const disks = vm.spec.disks ?? [];
  const index = disks.findIndex((d) => d.name === disk);
  if (index === -1) throw new EditRefused(`VM ${vm.metadata.name} has no disk ${disk}; it has ${disks.map((d) => d.name).join(', ') || 'none'}`);
  if (!disks[index]!.hotpluggable) {
    throw new EditRefused(`disk ${disk} of VM ${vm.metadata.name} is not hotpluggable: it cannot be removed from a running VM; remove it from spec.disks and restart the VM`);
  }
  const ops: JsonPatchOp[] = [
    { op: 'test', path: `/spec/disks/${index}/name`, value: disk },
    { op: 'remove', path: `/spec/disks/${index}` },
  ];
  return { patch: guarded(vm, ops), goal: { kind: 'disk-gone', disk } };
}

/** Options of a resize: the vCPU count and/or the guest memory (a quantity such as 4Gi). */
export interface ResizeOptions {
  cpus?: number;
  memory?: string;
}

/**
 * resize: vCPUs as one socket of `cpus` cores, one thread each (so the count is what was
 * asked whatever the class's topology), and/or `spec.memory.guest`. A running VM takes the new
 * size at its next restart; the operator says so with the RestartRequired condition.
 */
export function resizeEdit(vm: VmView, options: ResizeOptions): Edit {
  const spec: Record<string, unknown> = {};
  if (options.cpus !== undefined) {
    if (!Number.isInteger(options.cpus) || options.cpus < 1 || options.cpus > 512) throw new EditRefused(`vCPUs must be a whole number from 1 to 512, not ${options.cpus}`);
    spec.cpu = { sockets: 1, cores: options.cpus, threads: 1 };
  }
  if (options.memory !== undefined) spec.memory = { guest: options.memory };
  if (!Object.keys(spec).length) throw new EditRefused(`nothing to change on VM ${vm.metadata.name}: give vCPUs or memory`);
  return { patch: merge(spec), goal: { kind: 'status', printableStatus: vm.status?.printableStatus ?? 'Running' } };
}

/** Where the VM is on the way to `goal`: reached, still going (with a line to show), or failed. */
export type Progress = { state: 'reached'; line: string } | { state: 'waiting'; line: string } | { state: 'failed'; line: string };

type GoalOf<K extends Goal['kind']> = Extract<Goal, { kind: K }>;

const phaseOf = (vm: VmView): string => vm.status?.printableStatus ?? 'Unknown';
const diskOf = (vm: VmView, name: string) => vm.status?.disks?.find((d) => d.name === name);

const PROGRESS: { [K in Goal['kind']]: (vm: VmView, goal: GoalOf<K>) => Progress } = {
  status: (vm, goal) => ({ state: phaseOf(vm) === goal.printableStatus ? 'reached' : 'waiting', line: `${vm.metadata.name}: ${phaseOf(vm)}` }),
  restarted: (vm, goal) => {
    const recorded = vm.status?.lastRestartRequestedAt === goal.requestedAt;
    const line = `${vm.metadata.name}: ${phaseOf(vm)}${recorded ? '' : ' (restart requested)'}`;
    return { state: recorded && phaseOf(vm) === 'Running' ? 'reached' : 'waiting', line };
  },
  'disk-attached': (vm, goal) => {
    const disk = diskOf(vm, goal.disk);
    const line = `${vm.metadata.name}: disk ${goal.disk} ${disk?.phase ?? 'Pending'}${disk?.message ? `: ${disk.message}` : ''}`;
    if (disk?.phase === 'Failed') return { state: 'failed', line };
    return { state: disk?.phase === 'Attached' ? 'reached' : 'waiting', line };
  },
  'disk-gone': (vm, goal) => {
    const disk = diskOf(vm, goal.disk);
    return { state: disk ? 'waiting' : 'reached', line: `${vm.metadata.name}: disk ${goal.disk} ${disk?.phase ?? 'removed'}` };
  },
};

/** Reads the VM's status against a goal (the live progress line of the waiting verbs). */
export function progressOf(vm: VmView, goal: Goal): Progress {
  return (PROGRESS[goal.kind] as (vm: VmView, goal: Goal) => Progress)(vm, goal);
}
