/**
 * `image import` and `image upload`: a VirtualMachineImage from a URL (printed, or applied with
 * --apply) and a local file sent through the image's upload subresource (upload-loop.ts), then
 * the wait until the operator says Ready or Failed. Manifests are checked with `kubevmm
 * validate`'s code first, so a bad flag is a usage error naming the flag and nothing is sent.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { stringify } from 'yaml';
import { formatIssue } from '../../api/issues.js';
import { API_VERSION } from '../../api/schema/common.js';
import { validateImage } from '../../api/validate.js';
import { EXIT, VerbError } from '../exit.js';
import type { ClusterContext } from './context.js';
import { claimSizeFor, HEADER_BYTES, readHeader } from './disk-header.js';
import type { ImageImportRequest, ImageUploadRequest } from './image-args.js';
import { printable, processOutput, type Output } from './progress.js';

/** A VirtualMachineImage manifest. */
export interface ImageManifest {
  apiVersion: string;
  kind: 'VirtualMachineImage';
  metadata: { name: string; namespace?: string };
  spec: { source: Record<string, unknown>; storage?: { size?: string; storageClassName?: string } };
}

function storage(size?: string, storageClassName?: string): Pick<ImageManifest['spec'], 'storage'> {
  return size || storageClassName ? { storage: { ...(size ? { size } : {}), ...(storageClassName ? { storageClassName } : {}) } } : {};
}

/** The manifest of `image import`. */
export function importManifest(request: ImageImportRequest, namespace?: string): ImageManifest {
  return {
    apiVersion: API_VERSION,
    kind: 'VirtualMachineImage',
    metadata: { name: request.name, ...(namespace ? { namespace } : {}) },
    spec: { source: { http: { url: request.url, ...(request.sha256 ? { sha256: request.sha256 } : {}) } }, ...storage(request.size, request.storageClass) },
  };
}

/** The manifest `image upload --create` applies. */
export function uploadManifest(name: string, namespace: string, size: string, storageClassName?: string): ImageManifest {
  return { apiVersion: API_VERSION, kind: 'VirtualMachineImage', metadata: { name, namespace }, spec: { source: { upload: {} }, ...storage(size, storageClassName) } };
}

const FLAGS: [RegExp, string][] = [
  [/^metadata\.name\b/, 'NAME'],
  [/^metadata\.namespace\b/, '-n/--namespace'],
  [/^spec\.source\.http\.url\b/, '--url'],
  [/^spec\.source\.http\.sha256\b/, '--sha256'],
  [/^spec\.storage\.size\b/, '--size'],
  [/^spec\.storage\.storageClassName\b/, '--storage-class'],
];

/** Refuses a manifest the webhook would refuse: a usage error naming each flag. */
export function checkImageManifest(manifest: ImageManifest): void {
  const { issues } = validateImage(manifest);
  if (issues.length === 0) return;
  const flag = (path: string) => FLAGS.find(([re]) => re.test(path))?.[1] ?? path;
  throw new VerbError(`these flags make an invalid VirtualMachineImage:\n${issues.map((i) => `  ${flag(i.path)}: ${formatIssue(i)}`).join('\n')}`, EXIT.usage);
}

/** Runs `image import`: prints the manifest, or applies it in the cluster `connect` loads. */
export async function runImageImport(request: ImageImportRequest, connect: () => Promise<ClusterContext>, io: Output = processOutput()): Promise<number> {
  checkImageManifest(importManifest(request, request.namespace ?? 'default'));
  if (!request.apply) {
    io.out.write(stringify(importManifest(request, request.namespace)));
    return EXIT.ok;
  }
  const ctx = await connect();
  const { ImageClient } = await import('./image-api.js');
  const result = await new ImageClient(ctx, request.name).apply(importManifest(request, ctx.namespace));
  io.out.write(`virtualmachineimage.kubevmm.io/${request.name} ${result}\n`);
  return EXIT.ok;
}

/** The file's size and the claim size its header asks for. */
async function fileFacts(path: string): Promise<{ size: number; claim?: string }> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new VerbError(`--file ${path}: not a regular file`);
    size = info.size;
  } catch (err) {
    if (err instanceof VerbError) throw err;
    throw new VerbError(`--file ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (size === 0) throw new VerbError(`--file ${path}: the file is empty`);
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEADER_BYTES, 0);
    const claim = claimSizeFor(readHeader(head.subarray(0, bytesRead)), size);
    return { size, ...(claim ? { claim } : {}) };
  } finally {
    await handle.close();
  }
}

/** Makes sure the image exists with an upload source: created with --create, else an error saying so. */
async function ensureImage(request: ImageUploadRequest, ctx: ClusterContext, file: { claim?: string }, io: Output): Promise<void> {
  const { ImageClient } = await import('./image-api.js');
  const client = new ImageClient(ctx, request.name);
  const image = await client.get();
  if (image) {
    const source = Object.keys(image.spec?.source ?? {})[0];
    if (source !== 'upload') throw new VerbError(`image ${ctx.namespace}/${request.name} has source ${source ?? '(none)'}, not upload: nothing can be uploaded into it`);
    return;
  }
  if (!request.create) throw new VerbError(`virtualmachineimage "${request.name}" not found in namespace ${ctx.namespace}: add --create to create it (source upload), or create it with kubectl`);
  const size = request.size ?? file.claim;
  if (!size) throw new VerbError(`--file ${request.file} is compressed (gzip or xz): its disk size is unknown until it is unpacked; give the claim's size with --size`, EXIT.usage);
  const manifest = uploadManifest(request.name, ctx.namespace, size, request.storageClass);
  checkImageManifest(manifest);
  io.err.write(`virtualmachineimage.kubevmm.io/${request.name} ${await client.apply(manifest)} (claim ${size})\n`);
}

/** Runs `image upload`. */
export async function runImageUpload(request: ImageUploadRequest, ctx: ClusterContext, io: Output = processOutput()): Promise<number> {
  const file = await fileFacts(request.file);
  await ensureImage(request, ctx, file, io);
  const [{ connectOptions }, { HttpUploadTransport }, { uploadFile }, { UploadProgress }] = await Promise.all([import('./stream.js'), import('./upload-http.js'), import('./upload-loop.js'), import('./upload-progress.js')]);
  const transport = new HttpUploadTransport({ server: ctx.server, namespace: ctx.namespace, name: request.name, options: await connectOptions(ctx) });
  const progress = new UploadProgress(io.err, `vmimage/${request.name}`, file.size);
  try {
    await uploadFile({
      transport,
      size: file.size,
      open: (start, end) => createReadStream(request.file, { start, end: end - 1, highWaterMark: 1024 * 1024 }),
      progress: (offset) => progress.update(offset),
      retrying: (why, delayMs) => progress.note(`retrying in ${Math.round(delayMs / 1000)} s: ${printable(why)}`),
      stallMs: request.timeout * 1000,
    });
  } catch (err) {
    progress.end();
    const stalled = /nothing progressed/.test((err as Error).message);
    throw new VerbError(`upload of ${request.file} to image ${ctx.namespace}/${request.name}: ${(err as Error).message}`, stalled ? EXIT.timedOut : EXIT.failed);
  }
  progress.end();
  io.out.write(`virtualmachineimage.kubevmm.io/${request.name} uploaded (${file.size} bytes)\n`);
  if (!request.wait) return EXIT.ok;
  const { waitForImage } = await import('./image-wait.js');
  return waitForImage(ctx, request.name, { timeoutMs: request.timeout * 1000, io });
}
