/**
 * planImageDisks: the claims of a VM's `image` disks, before its launcher starts. Per disk the
 * first missing thing decides: a claim of that name kubevmm did not make (an error naming it,
 * never adopted), the image (not found, not Ready: the VM waits and says so), the claim
 * (created: a CSI clone where the class allows, else blank), its copy pod (created, watched,
 * its verdict kept on the claim as an annotation), and then the disk is ready. Pure.
 */
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { vmImageDiskClaim } from '../../api/claims.js';
import { VM_LABEL } from '../../api/layout.js';
import { formatBytes, parseQuantity } from '../../api/quantity.js';
import { imageClaimName } from '../../api/schema/image.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { renderVmDiskClaim, usableBytes } from '../render/image-claims.js';
import { COPY_DISK_LABEL, copyPodName, renderImporterPod, sourceFilePath } from '../render/importer.js';
import { credentialsSecretName } from '../render/volumes.js';
import { cloneDecision, type StorageClassFacts } from './clone.js';
import type { ClaimFacts } from './image-plan.js';
import { importerState, podGeneration } from './importer-state.js';

/** A VirtualMachineImage as a VM disk needs it. */
export interface ImageFacts {
  phase?: string;
  progress?: string;
  /** The Failure condition's message when Failed. */
  failure?: string;
}

/** What the operator read for one `image` disk of a VM that has no launcher yet. */
export interface ImageDiskObserved {
  disk: string;
  /** The image in the VM's namespace; undefined when it does not exist. */
  image?: ImageFacts;
  /** The image's claim (`<image>-image`), when it exists. */
  imageClaim?: ClaimFacts;
  /** The StorageClass of the image's claim, when it could be read. */
  storageClass?: StorageClassFacts;
  /** The VM's claim for this disk (`<vm>-<disk>`), when it exists; `populated` from its annotation. */
  claim?: ClaimFacts & { populated: boolean };
  /** The copy pod, only when the VM owns it. */
  copyPod?: V1Pod;
  /** Set when a pod has the copy pod's name but the VM does not own it. */
  foreignCopyPod?: string;
}

/** One change for an image disk. */
export type ImageDiskAction =
  | { kind: 'createDiskClaim'; claim: V1PersistentVolumeClaim }
  | { kind: 'createCopyPod'; pod: V1Pod }
  | { kind: 'deleteCopyPod'; name: string }
  | { kind: 'markPopulated'; claimName: string };

/** Where one image disk stands. */
export interface ImageDiskState {
  disk: string;
  ready: boolean;
  /** True when it cannot get ready without the user (a foreign claim, a failed copy). */
  failed: boolean;
  reason: string;
  message: string;
}

/** The outcome for all image disks of the VM. */
export interface ImageDiskPlan {
  actions: ImageDiskAction[];
  disks: ImageDiskState[];
}

interface DiskContext {
  vm: VirtualMachine;
  spec: NonNullable<NonNullable<VirtualMachine['spec']['disks']>[number]['image']>;
  obs: ImageDiskObserved;
  launcherImage: string;
  actions: ImageDiskAction[];
}

const vmNs = (vm: VirtualMachine) => vm.metadata.namespace ?? 'default';

function state(disk: string, reason: string, message: string, flags: { ready?: boolean; failed?: boolean } = {}): ImageDiskState {
  return { disk, ready: flags.ready ?? false, failed: flags.failed ?? false, reason, message };
}

function copyPod(c: DiskContext, source: ClaimFacts, target: ClaimFacts): V1Pod {
  const { vm, obs } = c;
  const name = vm.metadata.name;
  return renderImporterPod({
    name: copyPodName(name, obs.disk),
    namespace: vmNs(vm),
    owner: { kind: 'VirtualMachine', name, uid: vm.metadata.uid ?? '', generation: vm.metadata.generation ?? 0 },
    labels: { [VM_LABEL]: name, [COPY_DISK_LABEL]: obs.disk },
    launcherImage: c.launcherImage,
    // The image was checked when imported; a second full read here would only delay the VM.
    task: { source: { kind: 'file', path: sourceFilePath(source.mode) }, target: { mode: target.mode, capacityBytes: Math.max(1, usableBytes(target.sizeBytes, target.mode)) }, compare: false },
    target: { claimName: vmImageDiskClaim(name, obs.disk), mode: target.mode },
    source: { claimName: imageClaimName(c.spec.name), mode: source.mode },
    // A raw disk.img is converted straight onto the target: scratch is only the importer's own.
    scratchBytes: 2 ** 30,
    credentialsSecret: credentialsSecretName(name),
  });
}

/** The image is there and Ready, or why the disk waits for it. */
function imageBlocker(c: DiskContext): ImageDiskState | undefined {
  const { obs, spec, vm } = c;
  if (!obs.image) return state(obs.disk, 'ImageNotFound', `disk ${obs.disk}: VirtualMachineImage ${spec.name} not found in namespace ${vmNs(vm)} (images are per namespace); create it there`);
  if (obs.image.phase === 'Failed') return state(obs.disk, 'ImageFailed', `disk ${obs.disk}: VirtualMachineImage ${spec.name} is Failed${obs.image.failure ? `: ${obs.image.failure}` : ''}; fix the image`);
  if (obs.image.phase !== 'Ready') return state(obs.disk, 'ImageNotReady', `disk ${obs.disk}: waiting for VirtualMachineImage ${spec.name} (${obs.image.phase ?? 'Pending'}${obs.image.progress ? `, ${obs.image.progress}` : ''})`);
  if (!obs.imageClaim) return state(obs.disk, 'ImageNotReady', `disk ${obs.disk}: the claim of VirtualMachineImage ${spec.name} is not there yet`);
  return undefined;
}

/** No claim yet: create it from the Ready image, by clone or blank for a copy. */
function planCreate(c: DiskContext): ImageDiskState {
  const { obs, spec, vm } = c;
  const blocker = imageBlocker(c);
  if (blocker || !obs.imageClaim) return blocker ?? state(obs.disk, 'ImageNotReady', '');
  const source = obs.imageClaim;
  const size = spec.size !== undefined ? parseQuantity(spec.size) : source.sizeBytes;
  if (size < source.sizeBytes) {
    return state(obs.disk, 'DiskTooSmall', `disk ${obs.disk}: image.size ${formatBytes(size)} is smaller than VirtualMachineImage ${spec.name}'s claim (${formatBytes(source.sizeBytes)}); raise image.size or leave it out`, { failed: true });
  }
  const decision = cloneDecision({ ...(source.storageClassName ? { sourceClass: source.storageClassName } : {}), ...(spec.storageClassName ? { wantedClass: spec.storageClassName } : {}), ...(obs.storageClass ? { storageClass: obs.storageClass } : {}) });
  const storageClassName = spec.storageClassName || source.storageClassName;
  c.actions.push({
    kind: 'createDiskClaim',
    claim: renderVmDiskClaim({
      vm: { name: vm.metadata.name, namespace: vmNs(vm), uid: vm.metadata.uid ?? '' },
      disk: obs.disk,
      sizeBytes: size,
      ...(storageClassName ? { storageClassName } : {}),
      volumeMode: source.mode,
      accessModes: source.accessModes,
      retain: spec.retain ?? false,
      ...(decision.clone ? { cloneFrom: imageClaimName(spec.name) } : {}),
    }),
  });
  const how = decision.clone ? 'as a CSI clone' : `to copy into (${decision.why})`;
  return state(obs.disk, 'CreatingClaim', `disk ${obs.disk}: creating PersistentVolumeClaim ${vmImageDiskClaim(vm.metadata.name, obs.disk)} from VirtualMachineImage ${spec.name} ${how}`);
}

/** The claim exists, blank: its copy pod fills it. */
function planCopy(c: DiskContext, claim: ClaimFacts): ImageDiskState {
  const { obs, spec, vm } = c;
  const claimName = vmImageDiskClaim(vm.metadata.name, obs.disk);
  const podName = copyPodName(vm.metadata.name, obs.disk);
  if (obs.foreignCopyPod) return state(obs.disk, 'CopyPodConflict', `disk ${obs.disk}: ${obs.foreignCopyPod}`, { failed: true });
  const pod = importerState(obs.copyPod);
  const stale = obs.copyPod && podGeneration(obs.copyPod) !== (vm.metadata.generation ?? 0);
  if (pod.phase === 'failed' && stale) c.actions.push({ kind: 'deleteCopyPod', name: podName });
  if (pod.phase === 'failed') {
    if (stale) return state(obs.disk, 'Copying', `disk ${obs.disk}: the spec changed; copying again`);
    return state(obs.disk, 'CopyFailed', `disk ${obs.disk}: copying VirtualMachineImage ${spec.name} into ${claimName} failed: ${pod.reason}: ${pod.message}; change the VM's spec to try again`, { failed: true });
  }
  if (pod.phase === 'succeeded') {
    c.actions.push({ kind: 'markPopulated', claimName });
    return state(obs.disk, 'Copying', `disk ${obs.disk}: copied`);
  }
  if (pod.phase === 'none') {
    const blocker = imageBlocker(c);
    if (blocker || !obs.imageClaim) return blocker ?? state(obs.disk, 'ImageNotReady', '');
    c.actions.push({ kind: 'createCopyPod', pod: copyPod(c, obs.imageClaim, claim) });
  }
  const problem = pod.phase === 'pending' && pod.problem ? ` (${pod.problem.reason}: ${pod.problem.message})` : '';
  return state(obs.disk, 'Copying', `disk ${obs.disk}: copying VirtualMachineImage ${spec.name} into PersistentVolumeClaim ${claimName} (pod ${podName})${problem}`);
}

function planDisk(c: DiskContext): ImageDiskState {
  const { obs, vm } = c;
  const claim = obs.claim;
  const claimName = vmImageDiskClaim(vm.metadata.name, obs.disk);
  if (claim && !claim.owned) {
    return state(obs.disk, 'ClaimConflict', `disk ${obs.disk}: PersistentVolumeClaim ${claimName} exists and kubevmm did not create it for this VM; kubevmm never adopts, changes or deletes it: rename the disk, delete that claim, or use it as a persistentVolumeClaim disk`, { failed: true });
  }
  if (!claim) return planCreate(c);
  if (claim.populated) {
    if (obs.copyPod && importerState(obs.copyPod).phase !== 'deleting') c.actions.push({ kind: 'deleteCopyPod', name: copyPodName(vm.metadata.name, obs.disk) });
    return state(obs.disk, 'DiskReady', '', { ready: true });
  }
  return planCopy(c, claim);
}

/** Plans every `image` disk of `vm` (cold-plugged: image disks cannot be hotplugged). */
export function planImageDisks(vm: VirtualMachine, observed: readonly ImageDiskObserved[], settings: { launcherImage: string }): ImageDiskPlan {
  const actions: ImageDiskAction[] = [];
  const disks = observed.flatMap((obs) => {
    const spec = vm.spec.disks?.find((d) => d.name === obs.disk)?.image;
    return spec ? [planDisk({ vm, spec, obs, launcherImage: settings.launcherImage, actions })] : [];
  });
  return { actions, disks };
}

/** What the VM's status says of its image disks: DisksReady, and a Failure when one needs the user. */
export interface ImageDiskVerdict {
  ready: boolean;
  condition: { type: 'DisksReady'; status: 'True' | 'False'; reason: string; message: string };
  failure?: { reason: string; message: string };
}

/** The verdict over all image disks of a plan: ready when every one is; else what each waits for. */
export function imageDiskVerdict(plan: ImageDiskPlan): ImageDiskVerdict {
  const waiting = plan.disks.filter((s) => !s.ready);
  if (!waiting.length) return { ready: true, condition: { type: 'DisksReady', status: 'True', reason: 'DisksReady', message: '' } };
  const failed = waiting.find((s) => s.failed);
  const first = failed ?? waiting[0];
  return {
    ready: false,
    condition: { type: 'DisksReady', status: 'False', reason: first?.reason ?? 'Provisioning', message: waiting.map((s) => s.message).join('; ') },
    ...(failed ? { failure: { reason: failed.reason, message: failed.message } } : {}),
  };
}
