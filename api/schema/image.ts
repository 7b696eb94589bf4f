/**
 * The VirtualMachineImage kind (namespaced, short name vmimage): an OS image imported once into
 * a claim of its own, from which VM disks (`spec.disks[].image`) are created. Spec as users
 * write it, status as the operator reports it (../shared/API.md).
 */
import { z } from 'zod';
import { API_VERSION, condition, dnsLabel, objectMeta, quantity } from './common.js';
import { dnsSubdomain, imageRef, optionalSubdomain } from './kube.js';

/** The longest URL an http source may have (the annotation that carries it stays small). */
export const MAX_URL_LENGTH = 2048;

/**
 * An http(s) URL with a host, no credentials and no whitespace or control characters: it
 * reaches the importer as data, never a shell, but it is also printed in status and logs.
 */
export const IMAGE_URL_PATTERN = '^https?://[A-Za-z0-9.\\-\\[\\]:]+(/[^\\s\\x00-\\x1f\\x7f]*)?$';

const httpSource = z.strictObject({
  url: z
    .string()
    .max(MAX_URL_LENGTH)
    .regex(new RegExp(IMAGE_URL_PATTERN), 'must be an http:// or https:// URL with a host and no user:password@, spaces or control characters')
    .describe('Where the image is: an http:// or https:// URL of a qcow2, raw, vmdk or iso file, optionally compressed (.gz, .xz), or an OVA (its first disk is imported). No credentials in the URL.'),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits (the output of sha256sum)')
    .optional()
    .describe('The SHA-256 of the file as served (before decompression), 64 lower-case hex digits. When set, an image whose checksum differs ends Failed and is never Ready.'),
});

const registrySource = z.strictObject({
  image: imageRef.describe('A containerDisk image, such as registry.example/os/debian:12: the disk inside it (path, default /disk) is copied out by a pod that runs it, so an image already on the node needs no registry.'),
  path: z
    .string()
    .max(1024)
    .regex(/^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+\/?$/, 'must be an absolute path of letters, digits, ".", "_" and "-" (no segment starting with "."), e.g. /disk')
    .optional()
    .describe('Where the disk image is in the container image: the file itself, or a directory holding exactly one file. Default /disk.'),
});

const pvcSource = z.strictObject({
  name: dnsSubdomain.describe('The claim to copy.'),
  namespace: dnsLabel.optional().describe('The claim’s namespace. Default: the image’s. Another namespace is allowed only when the user creating the image may get persistentvolumeclaims there (checked at admission).'),
});

/** Image sources: exactly one must be set (CEL in the CRD, and the webhook). */
export const IMAGE_SOURCES = ['http', 'registry', 'upload', 'pvc'] as const;

export const imageSource = z
  .strictObject({
    http: httpSource.optional().describe('Download over HTTP(S).'),
    registry: registrySource.optional().describe('Copy the disk out of a containerDisk image.'),
    upload: z.strictObject({}).optional().describe('Filled by `kubevmm image upload NAME --file PATH` through the virtualmachineimages/upload subresource.'),
    pvc: pvcSource.optional().describe('Copy another PersistentVolumeClaim (a disk.img on a Filesystem claim, or a Block claim).'),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: IMAGE_SOURCES.map((s) => `(has(self.${s}) ? 1 : 0)`).join(' + ') + ' == 1', message: `set exactly one source: ${IMAGE_SOURCES.join(', ')}` },
    ],
  });

export const accessMode = z.enum(['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod']);

export const imageStorage = z.strictObject({
  size: quantity.optional().describe('The size of the claim that holds the image (the claim exists before the import, so the image’s size is not known yet). Default: for a pvc source, the source claim’s size; otherwise the operator’s default image size (10Gi unless configured). An image larger than the claim ends Failed (ClaimTooSmall).'),
  storageClassName: optionalSubdomain.optional().describe('The StorageClass of the image’s claim. Default: the cluster’s default class.'),
  volumeMode: z.enum(['Filesystem', 'Block']).optional().describe('Filesystem (the image is disk.img at the claim’s root) or Block (the claim is the disk). Default Filesystem.'),
  accessModes: z.array(accessMode).min(1).max(4).optional().describe('The claim’s access modes. Default [ReadWriteOnce].'),
});

export const imageSpec = z.strictObject({
  source: imageSource.describe('Where the image comes from: exactly one of http, registry, upload and pvc. A change starts a new import.'),
  storage: imageStorage.optional().describe('The claim that holds the imported image.'),
});

export const imagePhase = z.enum(['Pending', 'Importing', 'Ready', 'Failed']);

export const imageStatus = z.looseObject({
  phase: imagePhase.optional().describe('Pending (waiting for a claim, a pod or an upload), Importing, Ready (fully written and verified; disks can be created from it) or Failed (see conditions; a change of the spec starts again).'),
  observedGeneration: z.number().int().optional().describe('The metadata.generation this status describes.'),
  progress: z.string().optional().describe('How much of the source was read, such as 42% (the PROGRESS column); 100% once Ready.'),
  format: z.string().optional().describe('The format detected in the source: qcow2, raw, vmdk, iso (after decompression, or the OVA’s first disk).'),
  virtualSize: z.string().optional().describe('The disk size the guest sees, such as 2Gi (the SIZE column).'),
  checksumVerified: z.boolean().optional().describe('true when source.http.sha256 was given and matched.'),
  claimName: z.string().optional().describe('The claim holding the image: <image name>-image, created and owned by the operator.'),
  importerPod: z.string().optional().describe('The pod importing the image, while Importing.'),
  conditions: z.array(condition).optional().describe('Standard conditions: Ready, and Failure with the reason (NotFound, ChecksumMismatch, NotADiskImage, ClaimTooSmall, ...).'),
});

export const virtualMachineImage = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('VirtualMachineImage'),
    metadata: objectMeta.extend({ name: dnsSubdomain.max(57) }),
    spec: imageSpec.describe('Where the image comes from and the claim it is stored in; written by users.'),
    status: imageStatus.optional().describe('The import as the operator reports it; users never set it.'),
  })
  .describe('An OS disk image imported into a claim, from which VM disks are created (spec.disks[].image) (kubevmm.io).');

export type VirtualMachineImage = z.infer<typeof virtualMachineImage>;
export type ImageSpec = z.infer<typeof imageSpec>;
export type ImageSource = z.infer<typeof imageSource>;
export type ImageStatus = z.infer<typeof imageStatus>;
export type ImagePhase = z.infer<typeof imagePhase>;

/** The claim the operator creates for an image: `<image>-image` (hence the name's 57-character cap). */
export function imageClaimName(image: string): string {
  return `${image}-image`;
}
