/**
 * Sizes that both the launcher (QEMU's command line) and the renderer (the pod's memory
 * overhead) depend on. One definition, so the overhead always covers what QEMU allocates.
 */

/** TCG translation-block cache, in MiB (`-accel tcg,tb-size=`). */
export const TCG_TB_SIZE_MIB = 32;

/** VGA video memory when graphics is vnc, in MiB (`-device VGA,vgamem_mb=`). */
export const VGA_MEMORY_MIB = 16;

/** SATA ports of q35's built-in AHCI controller. */
export const MAX_SATA_DISKS = 6;

/**
 * The largest guest memory: 16 TiB, beyond any host QEMU runs on today. Bounded sizes also
 * keep byte arithmetic exact (below 2^53) and every rendered quantity finite.
 */
export const MAX_GUEST_MEMORY_BYTES = 16 * 2 ** 40;

/** The largest emptyDisk: 1 PiB (exact in a double, and far beyond a node's disk). */
export const MAX_DISK_BYTES = 2 ** 50;
