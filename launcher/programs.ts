// The programs the launcher starts, under the names it looks them up by on PATH. Every spawn
// site takes its default from here, and cli/dockerfile.test.ts checks that the launcher image
// installs the Debian package of each one, so the image cannot fall behind the code.

/** Programs the launcher runs, by role. */
export const PROGRAMS = {
  /** The hypervisor, one per VM (`launcher run`; `--qemu` overrides it). */
  qemu: 'qemu-system-x86_64',
  /** Serves a hotplugged PVC over NBD from an attachment pod (ADR 0005, `launcher export`). */
  storageDaemon: 'qemu-storage-daemon',
  /**
   * Creates the qcow2 overlay of a writable containerDisk mounted from an image volume, and
   * inspects and converts imported disk images (`launcher import`, launcher/import).
   */
  qemuImg: 'qemu-img',
  /** Decompresses .xz images while they download (`launcher import`). */
  xz: 'xz',
  /** Serves an http(s) image as a read-only NBD export that qemu-img converts from, so it is not copied to scratch first (`launcher import`). */
  nbdkit: 'nbdkit',
} as const;

/** The name of one program in {@link PROGRAMS}. */
export type ProgramName = (typeof PROGRAMS)[keyof typeof PROGRAMS];
