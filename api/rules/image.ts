/**
 * Semantic rules of a VirtualMachineImage: what its schema cannot say. Pure; the one check that
 * needs the cluster (may the creator read a claim in another namespace?) is the webhook's
 * (operator/webhook/image.ts).
 */
import { parseQuantity } from '../quantity.js';
import { IMAGE_SOURCES, imageClaimName, type VirtualMachineImage } from '../schema/image.js';
import type { Finding } from './context.js';

/** The smallest claim an image may ask for: a smaller one cannot hold even a partition table and a boot sector worth the import. */
export const MIN_IMAGE_STORAGE_BYTES = 2 ** 20;

/** Exactly one source: the CRD's CEL rule says the same, so the CLI offline and the webhook agree with the API server. */
function oneSource(image: VirtualMachineImage): Finding[] {
  const set = IMAGE_SOURCES.filter((s) => image.spec.source[s] !== undefined);
  if (set.length === 1) return [];
  return [{ path: 'spec.source', message: `set exactly one source: ${IMAGE_SOURCES.join(', ')}${set.length ? ` (got ${set.join(' and ')})` : ''}` }];
}

/** A source that copies the image's own claim would read what it is writing. */
function ownClaim(image: VirtualMachineImage): Finding[] {
  const pvc = image.spec.source.pvc;
  if (!pvc) return [];
  const namespace = pvc.namespace ?? image.metadata.namespace;
  const own = imageClaimName(image.metadata.name);
  if (pvc.name !== own || (namespace !== undefined && namespace !== image.metadata.namespace)) return [];
  return [{ path: 'spec.source.pvc.name', message: `"${own}" is this image's own claim (the operator writes the import there); name the claim to copy from` }];
}

function storageSize(image: VirtualMachineImage): Finding[] {
  const size = image.spec.storage?.size;
  if (size === undefined) return [];
  const bytes = parseQuantity(size);
  if (bytes >= MIN_IMAGE_STORAGE_BYTES) return [];
  return [{ path: 'spec.storage.size', message: `${String(size)} is too small for a disk image; give at least 1Mi, or leave it out to size the claim from the image` }];
}

/** Every finding for a schema-valid image, in reporting order. */
export function imageRules(image: VirtualMachineImage): Finding[] {
  return [...oneSource(image), ...storageSize(image), ...ownClaim(image)];
}
