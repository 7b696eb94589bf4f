/**
 * planHotplug: hotpluggable PVC disks of a running VM, decided from observed state (pure).
 * A disk in spec.disks gets an attachment pod on the VM's node, then is attached through the
 * launcher; a disk gone from the spec is detached, then its attachment pod is deleted. Status
 * comes from the launcher's report when it has the disk, else from what is still missing.
 */
import { NBD_EXPORT } from '../../api/layout.js';
import type { VirtualMachine, VmStatus } from '../../api/schema/vm.js';
import { attachmentHost, attachmentPodName, renderAttachmentPod, renderHotplugService } from '../render/attachment.js';
import type { Action, HotplugObserved, LauncherStatus, VmEvent } from './types.js';

type DiskStatus = NonNullable<VmStatus['disks']>[number];
type LauncherDisk = NonNullable<LauncherStatus['disks']>[number];

/** A hotpluggable disk as the spec wants it. */
export interface WantedDisk {
  name: string;
  claimName: string;
  readOnly: boolean;
  bus: 'virtio' | 'scsi';
  cache: 'none' | 'writethrough' | 'writeback';
}

/** What planHotplug decides. */
export interface HotplugPlan {
  actions: Action[];
  disks: DiskStatus[];
  /** Something is in progress that no watch reports (the launcher's side): look again. */
  pending: boolean;
}

/** Where the VM's launcher is: planned only while it runs on a node. */
export interface HotplugContext {
  vm: VirtualMachine;
  launcherImage: string;
  node: string;
  obs: HotplugObserved;
  /** The launcher's report; undefined when it could not be reached this time. */
  launcher?: LauncherStatus;
  /**
   * Disks the running launcher was started with (its pod's VM annotation, non-hotpluggable):
   * they are in its report but are never hotplug's to attach or detach.
   */
  coldDisks?: ReadonlySet<string>;
}

/**
 * The disks hotplug owns in the launcher's report: not the ones it booted with, and not a
 * hotpluggable disk it merely lists as Pending (declared, not attached).
 */
function hotplugged(ctx: HotplugContext): LauncherDisk[] {
  return (ctx.launcher?.disks ?? []).filter((d) => d.phase !== 'Pending' && !ctx.coldDisks?.has(d.name));
}

/** The hotpluggable PVC disks of a spec, with defaults applied. */
export function wantedDisks(vm: VirtualMachine): WantedDisk[] {
  return (vm.spec.disks ?? []).flatMap((d) =>
    d.hotpluggable && d.persistentVolumeClaim
      ? [{ name: d.name, claimName: d.persistentVolumeClaim.claimName, readOnly: d.readOnly ?? d.persistentVolumeClaim.readOnly ?? false, bus: d.bus === 'scsi' ? 'scsi' : 'virtio', cache: d.cache ?? 'none' }]
      : [],
  );
}

function fromLauncher(l: LauncherDisk): DiskStatus {
  return { name: l.name, phase: l.phase, ...(l.target ? { target: l.target } : {}), message: l.message ?? '' };
}

/** A disk that cannot be attached yet: a pod not ours has its attachment pod's name, its claim is held elsewhere, or does not exist. */
function blockedBy(ctx: HotplugContext, disk: WantedDisk): DiskStatus | undefined {
  const foreign = ctx.obs.attachments[disk.name]?.foreign;
  if (foreign) return { name: disk.name, phase: 'Failed', message: foreign };
  const other = disk.readOnly ? undefined : ctx.obs.conflicts[disk.claimName];
  if (other) {
    const message = `PersistentVolumeClaim ${disk.claimName} is in read-write use by VirtualMachine ${other}; detach it there first, or set readOnly: true on both`;
    return { name: disk.name, phase: 'Failed', message };
  }
  if (ctx.obs.pvcs[disk.claimName]) return undefined;
  const ns = ctx.vm.metadata.namespace ?? 'default';
  return { name: disk.name, phase: 'Pending', message: `PersistentVolumeClaim ${disk.claimName} not found in namespace ${ns}; create it` };
}

/** Failed or evicted, an attachment pod never serves again: delete it; the next pass creates a new one. */
function replaceFailed(ctx: HotplugContext, disk: WantedDisk, reported: LauncherDisk | undefined): { status: DiskStatus; actions: Action[] } | undefined {
  const pod = ctx.obs.attachments[disk.name];
  if (!pod?.failed || pod.deleting) return undefined;
  const name = attachmentPodName(ctx.vm.metadata.name, disk.name);
  const status: DiskStatus = reported ? fromLauncher(reported) : { name: disk.name, phase: 'Pending', message: `replacing the attachment pod ${name} (${pod.failed})` };
  return { status, actions: [{ kind: 'deleteAttachment', name }] };
}

/** One wanted disk: the first thing missing decides its status and next action. */
function planWanted(ctx: HotplugContext, disk: WantedDisk, previous: DiskStatus | undefined): { status: DiskStatus; actions: Action[] } {
  const { vm, obs, node } = ctx;
  const ns = vm.metadata.namespace ?? 'default';
  const pending = (message: string): DiskStatus => ({ name: disk.name, phase: 'Pending', message });
  const blocked = blockedBy(ctx, disk);
  if (blocked) return { status: blocked, actions: [] };
  const pvc = obs.pvcs[disk.claimName]!;
  const pod = obs.attachments[disk.name];
  const reported = hotplugged(ctx).find((d) => d.name === disk.name);
  const actions: Action[] = [];
  const replaced = replaceFailed(ctx, disk, reported);
  if (replaced) return replaced;
  if (!pod || pod.deleting) {
    if (!pod) actions.push({ kind: 'createAttachment', service: renderHotplugService(vm), pod: renderAttachmentPod({ vm, config: { launcherImage: ctx.launcherImage }, disk, node, pvc }) });
    if (!reported) return { status: pending(`starting the attachment pod ${attachmentPodName(vm.metadata.name, disk.name)} on node ${node}`), actions };
  }
  if (reported) return { status: fromLauncher(reported), actions };
  if (!ctx.launcher) return { status: previous ?? pending('waiting for the launcher to answer'), actions };
  if (!pod?.ready) return { status: pending(`waiting for the NBD export in pod ${attachmentPodName(vm.metadata.name, disk.name)}`), actions };
  const nbd = { host: attachmentHost(vm.metadata.name, ns, disk.name), port: NBD_EXPORT.port, export: NBD_EXPORT.name };
  actions.push({ kind: 'attachDisk', request: { name: disk.name, nbd, bus: disk.bus, readOnly: disk.readOnly, cache: disk.cache } });
  return { status: { name: disk.name, phase: 'Attaching', message: '' }, actions };
}

/**
 * Disks the launcher still has but the spec no longer wants: detach them. Without a report
 * this time, what status last said stays (a disk is never reported gone unseen).
 */
function planUnwanted(ctx: HotplugContext, wanted: Set<string>): { disks: DiskStatus[]; actions: Action[] } {
  if (!ctx.launcher) {
    const kept = (ctx.vm.status?.disks ?? []).filter((d) => !wanted.has(d.name) && d.phase !== 'Pending');
    return { disks: kept, actions: [] };
  }
  const gone = hotplugged(ctx).filter((l) => !wanted.has(l.name));
  return {
    disks: gone.map((l) => (l.phase === 'Failed' ? fromLauncher(l) : { ...fromLauncher(l), phase: 'Detaching' })),
    actions: gone.filter((l) => l.phase !== 'Detaching').map((l) => ({ kind: 'detachDisk', name: l.name })),
  };
}

/** Attachment pods no disk needs any more: not wanted and not in the launcher (or no launcher). */
function orphanedAttachments(ctx: HotplugContext, wanted: Set<string>, running: boolean): Action[] {
  const inLauncher = new Set(hotplugged(ctx).map((d) => d.name));
  return Object.entries(ctx.obs.attachments)
    .filter(([disk, pod]) => !pod.deleting && !pod.foreign && (!running || (!wanted.has(disk) && ctx.launcher !== undefined && !inLauncher.has(disk))))
    .map(([disk]) => ({ kind: 'deleteAttachment', name: attachmentPodName(ctx.vm.metadata.name, disk) }));
}

/** Hotplug for a VM whose launcher runs on `ctx.node`. */
export function planHotplug(ctx: HotplugContext): HotplugPlan {
  const wanted = wantedDisks(ctx.vm);
  const previous = new Map((ctx.vm.status?.disks ?? []).map((d) => [d.name, d]));
  const planned = wanted.map((disk) => planWanted(ctx, disk, previous.get(disk.name)));
  const unwanted = planUnwanted(ctx, new Set(wanted.map((w) => w.name)));
  const disks = [...planned.map((p) => p.status), ...unwanted.disks];
  const actions = [...planned.flatMap((p) => p.actions), ...unwanted.actions, ...orphanedAttachments(ctx, new Set(wanted.map((w) => w.name)), true)];
  return { actions, disks, pending: disks.some((d) => d.phase !== 'Attached' && d.phase !== 'Failed') };
}

/** A VM that is not running: no attachment pods; wanted disks wait for it. */
export function planHotplugStopped(vm: VirtualMachine, obs: HotplugObserved | undefined): HotplugPlan {
  const disks = wantedDisks(vm).map((d) => ({ name: d.name, phase: 'Pending' as const, message: 'attached once the VM runs' }));
  const ctx: HotplugContext = { vm, launcherImage: '', node: '', obs: obs ?? { attachments: {}, pvcs: {}, conflicts: {} } };
  return { actions: orphanedAttachments(ctx, new Set(), false), disks, pending: false };
}

/** Events for disks whose phase changed: attached, failed, detached. */
export function diskEvents(before: VmStatus['disks'], after: VmStatus['disks']): VmEvent[] {
  const old = new Map((before ?? []).map((d) => [d.name, d]));
  const now = new Map((after ?? []).map((d) => [d.name, d]));
  const events: VmEvent[] = [];
  for (const d of now.values()) {
    if (old.get(d.name)?.phase === d.phase) continue;
    if (d.phase === 'Attached') events.push({ type: 'Normal', reason: 'DiskAttached', message: `disk ${d.name} attached${d.target ? ` as ${d.target}` : ''}` });
    if (d.phase === 'Failed') events.push({ type: 'Warning', reason: 'DiskFailed', message: `disk ${d.name}: ${d.message ?? ''}` });
  }
  for (const d of old.values()) {
    if (!now.has(d.name) && d.phase !== 'Pending') events.push({ type: 'Normal', reason: 'DiskDetached', message: `disk ${d.name} detached` });
  }
  return events;
}
