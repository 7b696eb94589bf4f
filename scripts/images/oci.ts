// OCI image layout, written directly (https://github.com/opencontainers/image-spec): gzip
// layers with their digests and diff IDs, the image config, the manifest, and an index whose
// annotations name the image, packed as one oci-archive that `ctr images import`, skopeo and
// podman read. Nothing here needs a container engine or root.

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { RuntimeConfig } from './dockerfile.js';
import { tarStream, TAR_MTIME, type TarEntry } from './tar.js';

/** A gzip layer blob on disk. */
export interface LayerBlob {
  /** `sha256:...` of the compressed blob (the manifest's layer digest). */
  digest: string;
  /** `sha256:...` of the uncompressed tar (the config's rootfs.diff_ids). */
  diffId: string;
  /** Compressed size in bytes. */
  size: number;
  /** Uncompressed size in bytes. */
  tarSize: number;
  /** Where the blob is. */
  path: string;
}

/** Runtime config plus what OCI configs carry beyond a Dockerfile's fields. */
export interface ImageConfig extends RuntimeConfig {
  ExposedPorts?: Record<string, Record<string, never>>;
  StopSignal?: string;
}

/** The annotation containerd's importer reads the image name from (a full reference). */
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';
/** The OCI image-layout annotation for the reference (skopeo's `oci-archive:file:ref`). */
export const OCI_REF_ANNOTATION = 'org.opencontainers.image.ref.name';

const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A pass-through stream that hashes and counts what flows through it. */
function hashing(): Transform & { digest(): string; bytes(): number } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return Object.assign(stream, { digest: () => `sha256:${hash.digest('hex')}`, bytes: () => bytes });
}

/**
 * Gzips a tar stream into `<dir>/sha256/<hex>`, hashing both sides on the way. The blob is
 * written under a temporary name and renamed, so a reader never sees half of one.
 */
export async function writeLayer(tar: AsyncIterable<Buffer> | Readable, dir: string): Promise<LayerBlob> {
  await mkdir(join(dir, 'sha256'), { recursive: true });
  const tmp = join(dir, `.layer-${process.pid}-${Date.now()}`);
  const plain = hashing();
  const packed = hashing();
  try {
    await pipeline(Readable.from(tar), plain, createGzip({ level: 6 }), packed, createWriteStream(tmp));
    const digest = packed.digest();
    const path = join(dir, 'sha256', digest.slice('sha256:'.length));
    await rename(tmp, path);
    return { digest, diffId: plain.digest(), size: packed.bytes(), tarSize: plain.bytes(), path };
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The layer of `entries` (see {@link tarStream}). */
export function writeEntriesLayer(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>, dir: string): Promise<LayerBlob> {
  return writeLayer(tarStream(entries), dir);
}

/** What {@link writeOciArchive} writes. */
export interface OciImage {
  /** Full reference, e.g. `kubevmm.local/launcher:0.1.0-0123abcd4567`. */
  ref: string;
  layers: readonly LayerBlob[];
  config: ImageConfig;
  /** History comments, one per layer (`created_by`), for `skopeo inspect` and `ctr` readers. */
  history?: readonly string[];
}

/** Digests of what was written. */
export interface WrittenImage {
  manifestDigest: string;
  configDigest: string;
  /** Size of the archive in bytes. */
  archiveSize: number;
}

const CREATED = new Date(TAR_MTIME * 1000).toISOString();

/** The image config blob (linux/amd64; the images run on the x86-64 nodes QEMU emulates from). */
export function configJson(image: OciImage): Buffer {
  const config = {
    created: CREATED,
    architecture: 'amd64',
    os: 'linux',
    config: image.config,
    rootfs: { type: 'layers', diff_ids: image.layers.map((l) => l.diffId) },
    history: image.layers.map((_, i) => ({ created: CREATED, created_by: image.history?.[i] ?? 'kubevmm scripts/images' })),
  };
  return Buffer.from(JSON.stringify(config));
}

/**
 * Writes `image` as an oci-archive (a tar of an OCI image layout) at `out`, atomically. The
 * index names the image in both annotations: containerd's importer takes the full reference
 * from `io.containerd.image.name`, skopeo and podman from `org.opencontainers.image.ref.name`.
 */
export async function writeOciArchive(image: OciImage, out: string): Promise<WrittenImage> {
  const config = configJson(image);
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: configDigest, size: config.length },
      layers: image.layers.map((l) => ({ mediaType: MEDIA.layer, digest: l.digest, size: l.size })),
    }),
  );
  const manifestDigest = sha256(manifest);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [
        {
          mediaType: MEDIA.manifest,
          digest: manifestDigest,
          size: manifest.length,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { [CONTAINERD_NAME_ANNOTATION]: image.ref, [OCI_REF_ANNOTATION]: image.ref },
        },
      ],
    }),
  );
  const file = (path: string, content: Buffer): TarEntry => ({ type: 'file', path, content, mode: 0o644, uid: 0, gid: 0 });
  const blob = (digest: string) => `blobs/sha256/${digest.slice('sha256:'.length)}`;
  const seen = new Set<string>();
  const layers = image.layers.filter((l) => !seen.has(l.digest) && seen.add(l.digest));
  const entries: TarEntry[] = [
    { type: 'dir', path: 'blobs', mode: 0o755, uid: 0, gid: 0 },
    { type: 'dir', path: 'blobs/sha256', mode: 0o755, uid: 0, gid: 0 },
    file('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')),
    file(blob(configDigest), config),
    ...layers.map((l): TarEntry => ({ type: 'file', path: blob(l.digest), source: l.path, mode: 0o644, uid: 0, gid: 0 })),
    file(blob(manifestDigest), manifest),
    file('index.json', index),
  ];
  await mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.part`;
  try {
    await pipeline(Readable.from(tarStream(entries)), createWriteStream(tmp));
    await rename(tmp, out);
  } finally {
    await rm(tmp, { force: true });
  }
  return { manifestDigest, configDigest, archiveSize: (await stat(out)).size };
}
