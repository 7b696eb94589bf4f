/**
 * The claims kubevmm creates for disk images: an image's own claim (`<image>-image`, owned by
 * the VirtualMachineImage) and a VM disk's claim made from it (`<vm>-<disk>`, owned by the VM
 * unless the disk says retain). Both carry the UID of the object they were made for, so a
 * claim of the same name that kubevmm did not make is recognised and never adopted. Pure.
 */
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { vmImageDiskClaim } from '../../api/claims.js';
import { VM_LABEL } from '../../api/layout.js';
import { formatBytes } from '../../api/quantity.js';
import { API_VERSION } from '../../api/schema/common.js';
import { imageClaimName } from '../../api/schema/image.js';
import { IMAGE_LABEL } from './importer.js';

/** Annotation on a claim kubevmm created: the UID of the image or VM it was made for. */
export const CREATED_FOR_ANNOTATION = 'kubevmm.io/created-for';
/**
 * Annotation on a VM disk's claim once it holds the image: `clone` (the storage made it) or
 * `copy` (a copy pod finished). Until then the VM does not start on it.
 */
export const POPULATED_ANNOTATION = 'kubevmm.io/populated';

/** The claim modes and access an image claim was made with. */
export type VolumeMode = 'Filesystem' | 'Block';

/**
 * What a Filesystem claim of `bytes` can hold as one disk.img: the filesystem keeps some for
 * itself. 5.5% is what CDI assumes by default; a Block claim is all usable.
 */
export function usableBytes(bytes: number, mode: VolumeMode): number {
  return mode === 'Block' ? bytes : Math.floor(bytes * (1 - 0.055));
}

/** The owning image, as the image claim needs it. */
export interface ImageClaimInput {
  image: { name: string; namespace: string; uid: string };
  sizeBytes: number;
  storageClassName?: string;
  volumeMode: VolumeMode;
  accessModes: string[];
}

/** The claim holding an imported image. */
export function renderImageClaim(input: ImageClaimInput): V1PersistentVolumeClaim {
  const { image } = input;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: imageClaimName(image.name),
      namespace: image.namespace,
      labels: { [IMAGE_LABEL]: image.name, 'app.kubernetes.io/managed-by': 'kubevmm' },
      annotations: { [CREATED_FOR_ANNOTATION]: image.uid },
      ownerReferences: [{ apiVersion: API_VERSION, kind: 'VirtualMachineImage', name: image.name, uid: image.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      accessModes: input.accessModes,
      volumeMode: input.volumeMode,
      ...(input.storageClassName ? { storageClassName: input.storageClassName } : {}),
      resources: { requests: { storage: formatBytes(input.sizeBytes) } },
    },
  };
}

/** A VM disk's claim: what it is made from, and how. */
export interface VmDiskClaimInput {
  vm: { name: string; namespace: string; uid: string };
  disk: string;
  sizeBytes: number;
  storageClassName?: string;
  volumeMode: VolumeMode;
  accessModes: string[];
  /** Keep the claim when the VM goes: no owner reference then. */
  retain: boolean;
  /** The image claim to clone (CSI volume cloning); absent: a blank claim a copy pod fills. */
  cloneFrom?: string;
}

/** The claim backing a VM's `image` disk. */
export function renderVmDiskClaim(input: VmDiskClaimInput): V1PersistentVolumeClaim {
  const { vm } = input;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: vmImageDiskClaim(vm.name, input.disk),
      namespace: vm.namespace,
      labels: { [VM_LABEL]: vm.name, 'app.kubernetes.io/managed-by': 'kubevmm' },
      annotations: { [CREATED_FOR_ANNOTATION]: vm.uid, ...(input.cloneFrom ? { [POPULATED_ANNOTATION]: 'clone' } : {}) },
      ...(input.retain ? {} : { ownerReferences: [{ apiVersion: API_VERSION, kind: 'VirtualMachine', name: vm.name, uid: vm.uid, controller: true, blockOwnerDeletion: true }] }),
    },
    spec: {
      accessModes: input.accessModes,
      volumeMode: input.volumeMode,
      ...(input.storageClassName ? { storageClassName: input.storageClassName } : {}),
      resources: { requests: { storage: formatBytes(input.sizeBytes) } },
      ...(input.cloneFrom ? { dataSource: { kind: 'PersistentVolumeClaim', name: input.cloneFrom } } : {}),
    },
  };
}
