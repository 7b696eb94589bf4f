/**
 * The claim size `kubevmm image upload --create` asks for when `--size` is not given: a disk
 * image's virtual size can be far larger than its file (qcow2 and sparse VMDK store only what
 * was written), and an image larger than its claim ends ClaimTooSmall. The two headers that
 * say it are read here (facts from the formats' specifications); other files count as raw, and
 * compressed ones need --size. Pure.
 */

/** What the first bytes of a file say. */
export type HeaderFacts = { format: 'qcow2' | 'vmdk'; virtualSize: number } | { format: 'raw' } | { format: 'compressed'; kind: 'gzip' | 'xz' };

/** The bytes of the header to read: qcow2 and VMDK headers are in the first 512. */
export const HEADER_BYTES = 512;

/** Reads the format and virtual size from the first bytes of a disk image. */
export function readHeader(head: Buffer): HeaderFacts {
  // qcow2: "QFI\xfb", version, backing file offset and size, cluster bits, then the size at 24 (big-endian).
  if (head.length >= 32 && head.readUInt32BE(0) === 0x514649fb) return { format: 'qcow2', virtualSize: Number(head.readBigUInt64BE(24)) };
  // VMDK hosted sparse extent: "KDMV", version, flags, then the capacity in 512-byte sectors (little-endian).
  if (head.length >= 20 && head.toString('latin1', 0, 4) === 'KDMV') return { format: 'vmdk', virtualSize: Number(head.readBigUInt64LE(12)) * 512 };
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return { format: 'compressed', kind: 'gzip' };
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return { format: 'compressed', kind: 'xz' };
  return { format: 'raw' };
}

const MIB = 2 ** 20;

/**
 * The claim size for a file: its virtual size (qcow2, VMDK) or its size (raw, iso), whichever is
 * larger, rounded up to a MiB, plus 1% and at least 64 MiB for the filesystem that holds
 * disk.img on a Filesystem claim. Undefined for a compressed file: its size is unknown until it
 * was unpacked.
 */
export function claimSizeFor(facts: HeaderFacts, fileSize: number): string | undefined {
  if (facts.format === 'compressed') return undefined;
  const disk = Math.max(fileSize, 'virtualSize' in facts ? facts.virtualSize : 0);
  const room = Math.max(Math.ceil(disk / 100), 64 * MIB);
  return `${Math.ceil((disk + room) / MIB)}Mi`;
}
