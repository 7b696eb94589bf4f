// What a file is, from its first bytes: compressed (gzip, xz), a tar archive (an OVA), and for
// a file qemu-img calls "raw", whether it looks like a disk at all. qemu-img takes any file as
// raw, so without this an HTML error page served with 200 would be imported as a "disk".
// Pure: the caller reads the bytes.

/** How many leading bytes the checks here need (the ISO 9660 and btrfs signatures are past 32 KiB). */
export const SNIFF_BYTES = 66 * 1024;

/** Compression of a stream, by its magic number. */
export type Compression = 'gzip' | 'xz' | 'none';

const startsWith = (head: Uint8Array, offset: number, magic: readonly number[] | string): boolean => {
  const bytes = typeof magic === 'string' ? [...Buffer.from(magic, 'latin1')] : magic;
  return head.length >= offset + bytes.length && bytes.every((b, i) => head[offset + i] === b);
};

/** Compressions kubevmm does not read, named so that the error can say which one it saw. */
const UNSUPPORTED_COMPRESSIONS: readonly { name: string; offset: number; magic: readonly number[] | string }[] = [
  { name: 'bzip2', offset: 0, magic: 'BZh' },
  { name: 'zstd', offset: 0, magic: [0x28, 0xb5, 0x2f, 0xfd] },
  { name: 'zip', offset: 0, magic: [0x50, 0x4b, 0x03, 0x04] },
  { name: '7z', offset: 0, magic: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
];

/** The compression of a stream starting with `head`; an unsupported one is named in `unsupported`. */
export function sniffCompression(head: Uint8Array): { compression: Compression; unsupported?: string } {
  if (startsWith(head, 0, [0x1f, 0x8b])) return { compression: 'gzip' };
  if (startsWith(head, 0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return { compression: 'xz' };
  const other = UNSUPPORTED_COMPRESSIONS.find((c) => startsWith(head, c.offset, c.magic));
  return other ? { compression: 'none', unsupported: other.name } : { compression: 'none' };
}

/** A POSIX tar archive (what an OVA is): "ustar" at offset 257 of the first header. */
export function isTar(head: Uint8Array): boolean {
  return startsWith(head, 257, 'ustar');
}

/** Signatures of things a raw disk starts with: a partition table, an ISO 9660 volume, or a bare filesystem. */
const RAW_SIGNATURES: readonly { what: string; offset: number; magic: readonly number[] | string }[] = [
  { what: 'iso', offset: 32769, magic: 'CD001' },
  { what: 'GPT partition table', offset: 512, magic: 'EFI PART' },
  { what: 'MBR partition table', offset: 510, magic: [0x55, 0xaa] },
  { what: 'LVM physical volume', offset: 512 + 24, magic: 'LVM2 001' },
  { what: 'ext2/3/4 filesystem', offset: 1080, magic: [0x53, 0xef] },
  { what: 'XFS filesystem', offset: 0, magic: 'XFSB' },
  { what: 'btrfs filesystem', offset: 65600, magic: '_BHRfS_M' },
];

/**
 * Whether a file qemu-img probed as raw is a disk: `iso` for an ISO 9660 image (checked first: a
 * hybrid ISO also carries an MBR), `raw` for a partitioned disk or a bare filesystem, undefined
 * for anything else.
 */
export function rawDiskKind(head: Uint8Array): 'iso' | 'raw' | undefined {
  const found = RAW_SIGNATURES.find((s) => startsWith(head, s.offset, s.magic));
  if (!found) return undefined;
  return found.what === 'iso' ? 'iso' : 'raw';
}

/** A few words on what a non-disk file seems to be, for the NotADiskImage message. */
export function describeContent(head: Uint8Array): string {
  const text = Buffer.from(head.subarray(0, 512)).toString('latin1');
  if (/^\s*<(!doctype html|html|\?xml|head|body)/i.test(text)) return 'an HTML or XML page (often a login, error or directory-listing page served instead of the file)';
  if (head.length === 0) return 'an empty file';
  if (head.every((b) => b === 0)) return 'only zero bytes at its start (no partition table, filesystem or ISO 9660 volume)';
  // The text itself is not echoed: the message lands in the image's status, and a URL aimed at
  // a service inside the cluster (a metadata endpoint) must not leak what it answered.
  // eslint-disable-next-line no-control-regex
  if (/^[\x09\x0a\x0d\x20-\x7e]*$/.test(text)) return 'plain text (a JSON, YAML or other text answer, not a disk)';
  return 'data with no partition table, filesystem or ISO 9660 volume';
}
