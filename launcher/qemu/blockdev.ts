// Block node graphs: a protocol node (file or host_device) under a format node (raw or qcow2),
// the same objects for `-blockdev` at start and for `blockdev-add` at hotplug, so a disk is
// opened identically either way.
import { createHash } from 'node:crypto';
import type { ResolvedDisk } from '../../api/resolve.js';
import type { DiskBacking } from './types.js';

/** QEMU keeps node names in a 32-byte buffer: 31 characters at most. */
export const MAX_NODE_NAME = 31;

/** Properties shared by both nodes. */
interface NodeCommon {
  'node-name': string;
  'read-only': boolean;
  cache: { direct: boolean; 'no-flush': boolean };
  discard?: 'unmap';
}

/** The protocol node: where the bytes are. */
export interface ProtocolNode extends NodeCommon {
  driver: 'file' | 'host_device';
  filename: string;
}

/** The format node on top: how the bytes are laid out. Devices attach to this one. */
export interface FormatNode extends NodeCommon {
  driver: 'raw' | 'qcow2';
  file: string;
  'detect-zeroes'?: 'unmap';
  /** qcow2 only: the node unwritten blocks are read from; null = none, whatever the header names. */
  backing?: string | null;
}

function shortName(prefix: string, disk: string): string {
  const name = `${prefix}-${disk}`;
  if (name.length <= MAX_NODE_NAME) return name;
  // Long disk names (DNS labels go to 63) keep a readable head plus a hash of the whole name.
  const hash = createHash('sha256').update(disk).digest('hex').slice(0, 6);
  return `${prefix}-${disk.slice(0, MAX_NODE_NAME - prefix.length - 8)}-${hash}`;
}

/** Node names of a disk's read-only base image under an overlay: `bfile-<disk>` and `bfmt-<disk>`. */
export function baseNodeNames(disk: string): { file: string; format: string } {
  return { file: shortName('bfile', disk), format: shortName('bfmt', disk) };
}

/** Node names of a disk: `file-<disk>` and `fmt-<disk>`, shortened to QEMU's limit. */
export function blockNodeNames(disk: string): { file: string; format: string } {
  return { file: shortName('file', disk), format: shortName('fmt', disk) };
}

/**
 * Host page cache use per API cache mode. `none` bypasses it (O_DIRECT) and `writethrough`
 * differs from `writeback` only in the guest-visible write cache (see {@link guestWriteCache}).
 */
export function hostCache(cache: ResolvedDisk['cache']): NodeCommon['cache'] {
  return { direct: cache === 'none', 'no-flush': false };
}

/** The device's `write-cache`: off makes the guest see a write-through disk and never flush. */
export function guestWriteCache(cache: ResolvedDisk['cache']): boolean {
  return cache !== 'writethrough';
}

/** What {@link blockNodes} needs to know about one disk. */
export interface BlockNodeInput {
  disk: Pick<ResolvedDisk, 'name' | 'readOnly' | 'cache'>;
  backing: DiskBacking;
}

/** The two nodes of a disk, protocol first (it must exist before the format node names it). */
export function blockNodes({ disk, backing }: BlockNodeInput): [ProtocolNode, FormatNode] {
  const names = blockNodeNames(disk.name);
  const common = {
    'read-only': disk.readOnly,
    cache: hostCache(disk.cache),
    // Guest TRIM frees space on thin PVCs and sparse images; meaningless on read-only disks.
    ...(disk.readOnly ? {} : { discard: 'unmap' as const }),
  };
  return [
    { driver: backing.driver, filename: backing.path, 'node-name': names.file, ...common },
    {
      driver: backing.format,
      file: names.file,
      'node-name': names.format,
      ...common,
      ...(disk.readOnly ? {} : { 'detect-zeroes': 'unmap' as const }),
    },
  ];
}

/** Page-cache reads for images shared through an image volume (O_DIRECT is not promised on overlay mounts). */
const SHARED_CACHE: NodeCommon['cache'] = { direct: false, 'no-flush': false };

/**
 * Every node of a cold-plugged disk, in the order QEMU must create them; devices attach to the
 * last. A disk with a `base` is a qcow2 overlay whose backing is that read-only image, named by
 * node, so QEMU never opens a file because an image header names it.
 */
export function diskNodes(input: BlockNodeInput): (ProtocolNode | FormatNode)[] {
  const { disk, backing } = input;
  const [file, format] = blockNodes(input);
  if (backing.shared) return [{ ...file, cache: SHARED_CACHE }, { ...format, cache: SHARED_CACHE }];
  if (!backing.base) return [file, format];
  const names = baseNodeNames(disk.name);
  const common = { 'read-only': true, cache: SHARED_CACHE };
  return [
    { driver: 'file', filename: backing.base.path, 'node-name': names.file, ...common },
    { driver: backing.base.format, file: names.file, 'node-name': names.format, ...common, ...(backing.base.format === 'qcow2' ? { backing: null } : {}) },
    file,
    { ...format, backing: names.format },
  ];
}
