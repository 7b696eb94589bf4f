/** What reconcile reads (Observed) and what it decides (Plan). Plain data, no clients. */
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { AttachRequest, LauncherStatus } from '../../api/contract/control.js';
import type { VirtualMachineClass } from '../../api/schema/class.js';
import type { OperatorConfig } from '../../api/schema/config.js';
import type { VirtualMachine, VmStatus } from '../../api/schema/vm.js';
import type { PvcInfo, PvcInfos } from '../render/volumes.js';
import type { ClaimConflict } from './claims.js';
import type { ImageDiskAction, ImageDiskObserved } from './image-disks.js';

/** Settings of the reconciler beyond the operator config shared with the renderer. */
export interface ReconcileSettings {
  config: OperatorConfig;
  /** First crash-loop delay; doubles per consecutive failure. */
  crashLoopBaseMs: number;
  /** Crash-loop delays stop growing here. */
  crashLoopMaxMs: number;
  /** How often to look again at a VM waiting for something no watch reports (a PVC). */
  pollMs: number;
  /**
   * A launcher pod younger than this that is not Ready yet does not change status: a start
   * that is quick writes Running once instead of Starting then Running (0: no hold).
   */
  startingHoldMs?: number;
}

/** An attachment pod as hotplug planning sees it. */
export interface AttachmentState {
  ready: boolean;
  deleting: boolean;
  /** Set when the VM does not own the pod: why kubevmm leaves it alone. */
  foreign?: string;
  /** Why the pod ended for good (Failed, evicted): it will never serve again and is replaced. */
  failed?: string;
}

/** What hotplug planning reads besides the VM and the launcher's report. */
export interface HotplugObserved {
  /** Attachment pods of this VM, by disk name. */
  attachments: Record<string, AttachmentState>;
  /** The hotplug disks' PVCs by claim name; absent when the PVC does not exist. */
  pvcs: Record<string, PvcInfo>;
  /** Claims in read-write use by another running VM in the namespace: claim -> that VM. */
  conflicts: Record<string, string>;
}

/** Everything reconcile(key) knows about one VM at one moment. */
export interface Observed {
  vm: VirtualMachine;
  /** The class the VM names, when it exists. */
  vmClass?: VirtualMachineClass;
  /** The launcher pod from the cache, if any, and only when the VM owns it. */
  pod?: V1Pod;
  /**
   * Set when a pod has the launcher's name but the VM does not own it (ownership.ts): why
   * kubevmm leaves it alone. Nothing is started while it is there.
   */
  foreignPod?: string;
  /** PVCs the launcher pod needs that do not exist. */
  missingPvcs: string[];
  pvcs: PvcInfos;
  /** The launcher's report (GET /status), when it could be reached. */
  launcher?: LauncherStatus;
  /** Hotplug state; absent when the VM has no hotplug disks and no attachment pods. */
  hotplug?: HotplugObserved;
  /** The VM's `image` disks, looked at before a start (their claims, images and copy pods). */
  imageDisks?: ImageDiskObserved[];
  /** Claims the launcher would open read-write that another VM has (looked at before a start). */
  claimConflicts?: ClaimConflict[];
  now: Date;
}

/** One change to make in the cluster. */
export type Action =
  | { kind: 'addFinalizer' }
  | { kind: 'removeFinalizer' }
  | { kind: 'createPod'; pod: V1Pod }
  | { kind: 'deletePod'; reason: string }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'createAttachment'; service: V1Service; pod: V1Pod }
  | { kind: 'deleteAttachment'; name: string }
  | { kind: 'attachDisk'; request: AttachRequest }
  | { kind: 'detachDisk'; name: string }
  | ImageDiskAction;

/** An Event to record on the VM. */
export interface VmEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** What reconcile decided: actions in order, the status to write, when to look again. */
export interface Plan {
  actions: Action[];
  status: VmStatus;
  events: VmEvent[];
  requeueAfterMs?: number;
  /**
   * Status (and its Events) are not written now: the VM is Starting and its launcher is
   * younger than the hold. Look again after this many ms (its pod's changes come sooner).
   */
  holdStatusMs?: number;
}

/** The finalizer that keeps a VM until its launcher pod is gone. */
export const FINALIZER = 'kubevmm.io/launcher-cleanup';

export type { AttachRequest, LauncherStatus };
