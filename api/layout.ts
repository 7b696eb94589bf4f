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
  /** Per-disk directory: Filesystem PVCs and emptyDisks hold disk.img here. */
  diskDir: (disk: string) => `${RUN_DIR}/disks/${disk}`,
  /**
   * Where a containerDisk's `path` is copied to (a copy of the directory, holding the image
   * file under its own name); the launcher takes the one regular file in it.
   */
  containerDiskCopy: (disk: string) => `${RUN_DIR}/disks/${disk}/containerdisk`,
  /**
   * Where a containerDisk's image is mounted read-only as a pod image volume (delivery
   * imageVolume); its `path` is looked up inside. A writable disk's qcow2 overlay lives in
   * diskDir as containerDiskOverlay.
   */
  containerDiskMount: (disk: string) => `${RUN_DIR}/containerdisks/${disk}`,
  containerDiskOverlay: 'overlay.qcow2',
  /** File name of a disk image inside its directory. */
  diskImage: 'disk.img',
  /** Block-mode PVCs appear as this device. */
  blockDevice: (disk: string) => `/dev/kubevmm/${disk}`,
  /** Cloud-init user and network data from a Secret. */
  cloudInitSecretDir: (disk: string) => `${RUN_DIR}/cloudinit/${disk}`,
  /** The per-VM credentials Secret (CREDENTIAL_KEYS): the control API's TLS and the NBD key. */
  credentialsDir: `${RUN_DIR}/control`,
  /** The launcher's certificate for its VM, issued by the operator's launcher CA. */
  tlsCertFile: `${RUN_DIR}/control/tls.crt`,
  tlsKeyFile: `${RUN_DIR}/control/tls.key`,
  /** The launcher CA's certificate: control API clients must present a certificate it issued. */
  clientCaFile: `${RUN_DIR}/control/ca.crt`,
  /**
   * TLS-PSK key of the VM's NBD exports, in the same Secret. QEMU's tls-creds-psk reads
   * `<dir>/keys.psk` with lines `user:hexkey`.
   */
  pskFile: `${RUN_DIR}/control/keys.psk`,
  /** Writable scratch: sockets, logs, EFI vars, the cidata ISO. */
  runtimeDir: `${RUN_DIR}/runtime`,
  /**
   * File name, in the runtime directory, of the console log the launcher writes and the pod's
   * guest-console container prints (rotated to `<name>.1`).
   */
  consoleLogName: 'serial.log',
  /** Static tools (busybox) the launcher image hands to containerDisk copy containers. */
  toolsDir: `${RUN_DIR}/tools`,
  hugepagesDir: '/dev/hugepages',
} as const;

/**
 * The user and group the launcher runs as: the qemu user of Debian's packages, which the
 * launcher image creates with this ID and launcher pods run as (runAsUser, fsGroup).
 */
export const LAUNCHER_UID = 107;

/** TCP port of the launcher's control API. */
export const CONTROL_PORT = 9500;

/** Annotation carrying the resolved VM (read by the launcher through the downward API). */
export const VM_ANNOTATION = 'kubevmm.io/vm';
/** Annotation carrying the hash of the fields that need a restart when they change. */
export const SPEC_HASH_ANNOTATION = 'kubevmm.io/spec-hash';
/**
 * Annotation on a launcher pod: when the operator started this run (status.startedAt). It
 * travels with the pod's own create, so the run's start is known even before a status write.
 */
export const STARTED_AT_ANNOTATION = 'kubevmm.io/started-at';
/**
 * Annotation on a launcher pod naming the disks its launcher boots with (comma-separated):
 * the launcher reports them beside the hotplugged ones, and hotplug must leave them alone.
 * Short, so the operator's pod cache keeps it where it drops the whole resolved VM.
 */
export const BOOT_DISKS_ANNOTATION = 'kubevmm.io/boot-disks';
/** Label that ties launcher and attachment pods to their VM. */
export const VM_LABEL = 'kubevmm.io/vm';

/** The NBD export an attachment pod serves for one hotplugged PVC (ADR 0005). */
export const NBD_EXPORT = {
  /** TCP port qemu-storage-daemon listens on in the attachment pod. */
  port: 10809,
  /** Export name; one export per attachment pod. */
  name: 'disk',
  /** PSK identity in keys.psk. */
  pskUser: 'kubevmm',
  /** Where the attachment pod mounts a Filesystem PVC (it holds disk.img). */
  volumeDir: `${RUN_DIR}/export`,
  /** Where the attachment pod sees a Block PVC. */
  blockDevice: '/dev/kubevmm/export',
  /** Where the attachment pod mounts the PSK (keys.psk only). */
  pskDir: `${RUN_DIR}/nbd`,
} as const;

/** Keys of the per-VM credentials Secret (`<vm>-launcher-credentials`, type kubernetes.io/tls). */
export const CREDENTIAL_KEYS = { cert: 'tls.crt', key: 'tls.key', clientCa: 'ca.crt', psk: 'keys.psk' } as const;
/** Secret key of the per-VM Secret holding the NBD TLS-PSK (`kubevmm:<hex>`). */
export const PSK_KEY = CREDENTIAL_KEYS.psk;

/**
 * The name a launcher's certificate carries for its VM, checked by every client: the VM's
 * UID, so a launcher of a deleted VM of the same name is not taken for the new one. It is an
 * identity only (`.invalid` never resolves); clients dial the pod IP.
 */
export function launcherServerName(vmUid: string): string {
  return `${vmUid}.launcher.kubevmm.invalid`;
}

/** A second name in every launcher certificate, for scrapers that verify with the CA alone. */
export const LAUNCHER_SHARED_NAME = 'launcher.kubevmm.invalid';

/** Label on attachment pods naming the hotplugged disk they export. */
export const DISK_LABEL = 'kubevmm.io/disk';

/** The launcher Pod's name for a VM (the operator names it so; the subresource server finds it by it). */
export function launcherPodName(vm: string): string {
  return `${vm}-launcher`;
}
