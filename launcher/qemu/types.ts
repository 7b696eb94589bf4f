// The planner's input and output. Everything here is plain data so the launcher can log a
// plan, and tests can compare one, without running QEMU.
import type { LauncherVm } from '../../api/resolve.js';

/** Where a disk's bytes live on the launcher's file system, and how to read them. */
export interface DiskBacking {
  path: string;
  format: 'raw' | 'qcow2';
  /** `host_device` for block-mode PVCs (a device node), `file` for image files. */
  driver: 'file' | 'host_device';
  /**
   * A read-only image this disk is a qcow2 overlay of (a writable containerDisk from an image
   * volume): QEMU reads unwritten blocks from it and writes only to `path`.
   */
  base?: { path: string; format: 'raw' | 'qcow2' };
  /**
   * The file is a read-only image in an image volume, which every VM of the node using the
   * image shares: read through the host page cache, whatever the disk's cache mode.
   */
  shared?: boolean;
}

/** What the launcher knows when it is about to start QEMU. */
export interface QemuInput {
  vm: LauncherVm;
  /** Already decided by the launcher (`auto` resolved before planning). */
  accel: 'kvm' | 'tcg';
  /** One backing per disk of vm.disks that is not hotpluggable (cloudInit -> the cidata ISO, raw). */
  disks: Readonly<Record<string, DiskBacking>>;
  /** Writable directory for sockets and logs. */
  runtimeDir: string;
  /** Required when vm.firmware is efi; `vars` is the VM's own copy, made by the launcher. */
  firmware?: { code: string; vars: string };
  /** `TCP/22` -> host port for masquerade forwards; a port not listed is forwarded as is. */
  hostPorts?: Readonly<Record<string, number>>;
}

/** How the launcher finds a cold-plugged disk again (status, unplug, block jobs). */
export interface PlannedDisk {
  /** qdev id of the front end, for device_del and query-block's `qdev`. */
  deviceId: string;
  /** Top block node (the format node), as named in query-block's `node-name`. */
  nodeName: string;
  /** Best guess of the guest's name for it: vda.. (virtio), sda.. (scsi/sata disks), sr0.. (CD). */
  target: string;
  /** The pcie-root-port the disk (or its SCSI controller) sits on; absent on SATA. */
  port?: string;
}

/** QEMU's command line and the names the launcher needs to drive it. */
export interface QemuPlan {
  /** Arguments WITHOUT the binary name. */
  argv: string[];
  disks: Record<string, PlannedDisk>;
  /** Ids of the empty pcie-root-ports that accept hotplug, e.g. `hotplug0`. */
  sparePorts: string[];
  /** Bus for hotplugged SCSI disks (`scsi0.0`), present when the VM has scsi disks. */
  scsiBus?: string;
  sockets: { qmp: string; serial: string; console: string; serialLog: string; vnc?: string; guestAgent?: string };
}
