/**
 * The contract between the launcher Pod the operator renders and the launcher inside it:
 * where the VM description, disks, secrets and runtime files live, and the control port.
 * Both sides import these names, so they cannot drift apart.
 */

/** Root of everything kubevmm mounts into the launcher container. */
export const RUN_DIR = '/var/run/kubevmm';

export const LAYOUT = {
  /** Downward-API file holding the resolved VM as JSON (the kubevmm.io/vm annotation). */
  vmFile: `${RUN_DIR}/podinfo/vm.json`,
  podinfoDir: `${RUN_DIR}/podinfo`,
  /** Per-disk directory: Filesystem PVCs, emptyDisks and copied containerDisks hold disk.img here. */
  diskDir: (disk: string) => `${RUN_DIR}/disks/${disk}`,
  /** File name of a disk image inside its directory. */
  diskImage: 'disk.img',
  /** Block-mode PVCs appear as this device. */
  blockDevice: (disk: string) => `/dev/kubevmm/${disk}`,
  /** Cloud-init user and network data from a Secret. */
  cloudInitSecretDir: (disk: string) => `${RUN_DIR}/cloudinit/${disk}`,
  /** Bearer token of the control API (a per-VM Secret). */
  tokenDir: `${RUN_DIR}/control`,
  tokenFile: `${RUN_DIR}/control/token`,
  /** Writable scratch: sockets, logs, EFI vars, the cidata ISO. */
  runtimeDir: `${RUN_DIR}/runtime`,
  /** Static tools (busybox) the launcher image hands to containerDisk copy containers. */
  toolsDir: `${RUN_DIR}/tools`,
  hugepagesDir: '/dev/hugepages',
} as const;

/** TCP port of the launcher's control API. */
export const CONTROL_PORT = 9500;

/** Annotation carrying the resolved VM (read by the launcher through the downward API). */
export const VM_ANNOTATION = 'kubevmm.io/vm';
/** Annotation carrying the hash of the fields that need a restart when they change. */
export const SPEC_HASH_ANNOTATION = 'kubevmm.io/spec-hash';
/** Label that ties launcher and attachment pods to their VM. */
export const VM_LABEL = 'kubevmm.io/vm';
