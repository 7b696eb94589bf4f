/**
 * The contract between the operator, the importer pod it renders for a VirtualMachineImage (and
 * for a VM disk copied from an image), and the subresource server that relays uploads to it.
 * All three parse these schemas, so none can drift (DESIGN.md: contracts are zod in api/).
 *
 * - The operator writes the task as the pod annotation IMPORT_ANNOTATION; the importer reads it
 *   through the downward API at IMPORTER_LAYOUT.taskFile and parses it with `importTask`.
 * - The importer serves HTTPS with mutual TLS on IMPORTER_PORT, with the same per-object
 *   credentials scheme as launchers (certificate for the image's UID, the launcher CA as the
 *   client CA): `GET /status` (the operator) answers `importerStatus`; `HEAD /upload` and
 *   `PUT /upload` (the subresource server only) receive an upload, restartable.
 * - The importer exits 0 only after the target was fully written and verified, with
 *   `importerResult` as JSON in its termination message; on a permanent failure it exits 1
 *   with `Reason: message` there. Transient failures (connection reset, HTTP 5xx, 429) are
 *   retried inside the importer with backoff and never end the pod.
 */
import { z } from 'zod';
import { IMAGE_URL_PATTERN, MAX_URL_LENGTH } from '../schema/image.js';
import { SOURCE_URL_PATTERN } from './claim-source.js';
import { CONTROL_CLIENTS } from './control.js';

/** Annotation on the importer pod carrying the `importTask` JSON. */
export const IMPORT_ANNOTATION = 'kubevmm.io/import';

/** TCP port of the importer's HTTPS API. */
export const IMPORTER_PORT = 9501;

const IMPORT_DIR = '/var/run/kubevmm/import';

/** Where things are inside an importer pod. */
export const IMPORTER_LAYOUT = {
  /** Downward-API file holding IMPORT_ANNOTATION. */
  taskFile: `${IMPORT_DIR}/podinfo/task.json`,
  podinfoDir: `${IMPORT_DIR}/podinfo`,
  /** Filesystem target: the claim's root; the image is written as disk.img (then renamed into place). */
  targetDir: `${IMPORT_DIR}/target`,
  /** Block target: the claim as a device. */
  targetDevice: '/dev/kubevmm/target',
  /** Source claim of a `pvc` or clone-by-copy import, read-only. */
  sourceDir: `${IMPORT_DIR}/source`,
  sourceDevice: '/dev/kubevmm/source',
  /** Scratch space for formats that need random access before conversion (xz, vmdk, OVA) and for uploads. */
  scratchDir: `${IMPORT_DIR}/scratch`,
  /** Credentials: tls.crt, tls.key, ca.crt (as the launcher's). */
  credentialsDir: `${IMPORT_DIR}/credentials`,
} as const;

/**
 * Where the importer reads from. `file`: a path inside the pod (a registry image's disk, a
 * source claim's disk.img or device). `claim`: a claim of another namespace, served by its
 * source pod at `url` (api/contract/claim-source.ts): pulled like an http source, over mutual
 * TLS, the server checked for `serverName`; `mode` Block means its bytes are taken as a raw
 * disk whatever they hold, as a Block claim mounted in the pod would be.
 */
export const importSourceSpec = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('http'), url: z.string().max(MAX_URL_LENGTH).regex(new RegExp(IMAGE_URL_PATTERN)), sha256: z.string().regex(/^[0-9a-f]{64}$/).optional() }),
  z.strictObject({ kind: z.literal('upload') }),
  z.strictObject({ kind: z.literal('file'), path: z.string().regex(/^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+\/?$/) }),
  z.strictObject({ kind: z.literal('claim'), url: z.string().regex(SOURCE_URL_PATTERN), serverName: z.string().regex(/^[0-9a-f-]{8,64}\.source\.kubevmm\.invalid$/), mode: z.enum(['Filesystem', 'Block']) }),
]);

/** What the importer is asked to do. */
export const importTask = z.strictObject({
  source: importSourceSpec,
  target: z.strictObject({
    mode: z.enum(['Filesystem', 'Block']),
    /** Usable bytes of the target claim; an image whose virtual size exceeds it fails ClaimTooSmall. */
    capacityBytes: z.number().int().positive(),
  }),
  /**
   * Compare the written target with the source after the conversion (default true). false for
   * a VM disk copied from a Ready image: the image was checked when it was imported, and the
   * copy is on the VM's way to Running, where a second read of the whole disk would delay it.
   */
  compare: z.boolean().optional(),
});

/** The importer's progress, from `GET /status`. */
export const importerStatus = z.strictObject({
  phase: z.enum(['Waiting', 'Downloading', 'Converting', 'Verifying', 'Done', 'Failed']),
  /** Source bytes read so far (the download, the upload or the file). */
  bytesRead: z.number().int().nonnegative(),
  /** Total source bytes when known (Content-Length, Upload-Length, the file's size). */
  bytesTotal: z.number().int().nonnegative().optional(),
  /** 0-100, over the whole import (reading and converting). */
  percent: z.number().min(0).max(100),
  format: z.string().optional(),
  virtualSizeBytes: z.number().int().nonnegative().optional(),
  checksumVerified: z.boolean(),
  /** The last transient failure being retried, or the permanent one that ends the import. */
  failure: z.strictObject({ reason: z.string().min(1), message: z.string(), permanent: z.boolean() }).optional(),
  retries: z.number().int().nonnegative(),
});

/** The termination message of an importer that exited 0. */
export const importerResult = z.strictObject({
  format: z.string().min(1),
  virtualSizeBytes: z.number().int().positive(),
  checksumVerified: z.boolean(),
});

/** Header of `HEAD /upload` (bytes received so far) and `PUT /upload` (where the body starts). */
export const UPLOAD_OFFSET_HEADER = 'upload-offset';
/** Header of the first `PUT /upload`: the file's total size. */
export const UPLOAD_LENGTH_HEADER = 'upload-length';

/** The argument list of the importer container (the launcher image's entrypoint runs `launcher import`; every path defaults to IMPORTER_LAYOUT). */
export const IMPORTER_ARGS = ['import'] as const;

/**
 * What each client may call on the importer's API, by the common name of its certificate from
 * the launcher CA (the same names as CONTROL_CLIENTS): the operator reads progress, the
 * subresource server relays uploads. Nothing else, for anyone.
 */
const IMPORTER_CLIENT_RIGHTS: Readonly<Record<string, readonly string[]>> = {
  [CONTROL_CLIENTS.operator]: ['GET /status'],
  [CONTROL_CLIENTS.subresources]: ['HEAD /upload', 'PUT /upload'],
};

/** Whether the client with certificate common name `client` may call `method path` on an importer. */
export function importerClientMay(client: string, method: string, path: string): boolean {
  const rights = Object.hasOwn(IMPORTER_CLIENT_RIGHTS, client) ? IMPORTER_CLIENT_RIGHTS[client]! : [];
  return rights.includes(`${method.toUpperCase()} ${path}`);
}
/** The importer's upload endpoint (for the subresource server's client certificate only). */
export const UPLOAD_PATH = '/upload';

/**
 * How an upload goes, in more words than the headers' names (what `kubevmm image upload` and the
 * subresource server rely on):
 * - `HEAD /upload` answers 200 with UPLOAD_OFFSET_HEADER, the bytes stored so far, and
 *   UPLOAD_LENGTH_HEADER once a PUT gave it.
 * - `PUT /upload` appends its body at UPLOAD_OFFSET_HEADER, which must be the bytes stored so
 *   far (otherwise 409, with the right offset in UPLOAD_OFFSET_HEADER). A body may be any part of
 *   the rest of the file: a client sends the file as several PUTs, each short enough for the API
 *   server's request timeout (60 s by default; the aggregator proxies PUT as an ordinary
 *   request), and after a cut connection resumes from HEAD's offset. UPLOAD_LENGTH_HEADER is
 *   sent while the importer does not know it (HEAD has none). The answer is 204 with the new
 *   UPLOAD_OFFSET_HEADER; when it reaches the length the importer stops taking bytes and
 *   converts (the image's status says the rest).
 * - A refusal is JSON `{reason, message}` (as the launcher's control API answers).
 */
export const UPLOAD_ANSWER_CODES = { head: 200, put: 204, offsetMismatch: 409 } as const;

/** Failure reasons the importer reports (status condition reasons on the image). */
export const IMPORT_FAILURES = ['NotFound', 'HttpError', 'ChecksumMismatch', 'NotADiskImage', 'ClaimTooSmall', 'UnsupportedFormat', 'ImportFailed'] as const;

export type ImportTask = z.infer<typeof importTask>;
export type ImportSourceSpec = z.infer<typeof importSourceSpec>;
export type ImporterStatus = z.infer<typeof importerStatus>;
export type ImporterResult = z.infer<typeof importerResult>;
