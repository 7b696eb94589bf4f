/**
 * The contract between the operator, a source pod and an importer pod when a
 * VirtualMachineImage copies a claim of another namespace (ADR 0019). A pod mounts claims of
 * its own namespace only, so the claim is read where it lives: the operator runs a source pod
 * there (`launcher serve-source`) that serves the claim's bytes over HTTPS with mutual TLS,
 * and the importer pod in the image's namespace pulls them with its http path (Range resume,
 * retries), presenting a client certificate for the image's UID.
 *
 * - The operator writes `sourceTask` as the source pod's annotation SOURCE_ANNOTATION; the
 *   source reads it through the downward API at SOURCE_LAYOUT.taskFile.
 * - The source serves `HEAD /disk` (the size) and `GET /disk` (one byte range at most) on
 *   SOURCE_PORT, to one client only: the certificate with common name
 *   `importerClientName(imageUid)` from the launcher CA. Its own certificate carries
 *   `sourceServerName(imageUid)`, which the importer checks.
 * - The importer's task names the source pod's URL (`importSourceSpec` kind `claim`).
 */
import { z } from 'zod';

/** Annotation on the source pod carrying the `sourceTask` JSON. */
export const SOURCE_ANNOTATION = 'kubevmm.io/source';

/** TCP port of a source pod's HTTPS server. */
export const SOURCE_PORT = 9502;

/** The one path a source pod serves: the claim's disk. */
export const SOURCE_DISK_PATH = '/disk';

const SOURCE_DIR = '/var/run/kubevmm/source';

/** Where things are inside a source pod. */
export const SOURCE_LAYOUT = {
  taskFile: `${SOURCE_DIR}/podinfo/task.json`,
  podinfoDir: `${SOURCE_DIR}/podinfo`,
  /** Filesystem claim, read-only: its disk.img is served. */
  claimDir: `${SOURCE_DIR}/claim`,
  /** Block claim: the device is served. */
  claimDevice: '/dev/kubevmm/source',
  /** tls.crt, tls.key (for sourceServerName), ca.crt (the launcher CA: client certificates). */
  credentialsDir: `${SOURCE_DIR}/credentials`,
} as const;

/** The argument list of the source container (the launcher image's entrypoint runs `launcher serve-source`). */
export const SOURCE_ARGS = ['serve-source'] as const;

/** What a source pod serves, and to whom. */
export const sourceTask = z.strictObject({
  /** The UID of the VirtualMachineImage whose importer alone may read. */
  imageUid: z.string().regex(/^[0-9a-f-]{8,64}$/, 'must be a Kubernetes UID'),
  /** Filesystem: disk.img at the claim's root; Block: the claim is the device. */
  mode: z.enum(['Filesystem', 'Block']),
});

export type SourceTask = z.infer<typeof sourceTask>;

/** The name a source pod's certificate carries (an identity only: `.invalid` never resolves; the importer dials the pod IP). */
export function sourceServerName(imageUid: string): string {
  return `${imageUid}.source.kubevmm.invalid`;
}

/** The common name of the client certificate an image's importer presents to its source pod. */
export function importerClientName(imageUid: string): string {
  return `kubevmm-importer ${imageUid}`;
}

/** Keys of the importer's client certificate in its credentials Secret (only when it pulls from a source pod). */
export const IMPORTER_CLIENT_KEYS = { cert: 'client.crt', key: 'client.key' } as const;

/** Whether `client` (a verified certificate's common name) may call `method path` on the source pod of image `imageUid`. */
export function sourceClientMay(imageUid: string, client: string, method: string, path: string): boolean {
  return client === importerClientName(imageUid) && path === SOURCE_DISK_PATH && (method === 'GET' || method === 'HEAD');
}

/** The importer task's URL of a source pod at `ip`. */
export function sourceUrl(ip: string): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return `https://${host}:${SOURCE_PORT}${SOURCE_DISK_PATH}`;
}

/** A source URL as `sourceUrl` writes it: a pod IP (v4 or v6), a port, /disk. */
export const SOURCE_URL_PATTERN = /^https:\/\/(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}\/disk$/;
