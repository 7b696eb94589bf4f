/**
 * Whether a VM disk's claim can be a CSI clone of its image's claim, or must be filled by a
 * copy pod. Kubernetes has no API that says a provisioner can clone: a CSI driver that cannot
 * leaves a clone claim Pending for ever. So kubevmm clones only where the platform team said
 * so, on the StorageClass (CLONE_ANNOTATION), and everywhere else copies, which always works.
 * ADR 0015 gives the reasons. Pure.
 */

/** StorageClass annotation by which a platform team says its CSI driver clones volumes. */
export const CLONE_ANNOTATION = 'kubevmm.io/csi-clone';

/** What the decision reads of a StorageClass. */
export interface StorageClassFacts {
  name: string;
  provisioner: string;
  annotations: Record<string, string>;
}

/** The decision, with the reason a copy was chosen (said in the VM's condition while it copies). */
export type CloneDecision = { clone: true } | { clone: false; why: string };

/** The input: the image claim's class, the class the disk wants, and that class when it was read. */
export interface CloneInput {
  /** The image claim's StorageClass (as provisioned; the default class filled in). */
  sourceClass?: string;
  /** The disk's image.storageClassName; undefined: the image claim's. */
  wantedClass?: string;
  storageClass?: StorageClassFacts;
}

/** Decides clone or copy for one disk. */
export function cloneDecision(input: CloneInput): CloneDecision {
  const source = input.sourceClass;
  const wanted = input.wantedClass ?? source;
  if (!source) return { clone: false, why: 'the image claim has no StorageClass' };
  if (wanted !== source) return { clone: false, why: `a CSI clone stays in its source's StorageClass ${source}, and the disk asks for ${wanted}` };
  const sc = input.storageClass;
  if (!sc || sc.name !== source) return { clone: false, why: `StorageClass ${source} could not be read` };
  // In-tree and external non-CSI provisioners never clone; only the platform team's word counts.
  if (sc.provisioner.startsWith('kubernetes.io/')) return { clone: false, why: `StorageClass ${source} uses the in-tree provisioner ${sc.provisioner}, which cannot clone` };
  if (sc.annotations[CLONE_ANNOTATION] !== 'true') return { clone: false, why: `StorageClass ${source} does not say its driver clones (annotation ${CLONE_ANNOTATION}: "true")` };
  return { clone: true };
}
