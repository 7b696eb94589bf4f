// Disk front ends: virtio-blk on its own root port, SCSI disks on one virtio-scsi controller,
// SATA disks on q35's built-in AHCI. Back ends come from blockdev.ts.
import { MAX_SATA_DISKS } from '../../api/sizes.js';
import type { LauncherVm, ResolvedDisk } from '../../api/resolve.js';
import { diskNodes, guestWriteCache } from './blockdev.js';
import { LauncherInputError, UnsupportedSpecError } from './errors.js';
import { rootPortId } from './pcie.js';
import { blockdev, device } from './qemu-opts.js';
import type { OptProps } from './qemu-opts.js';
import type { Fragment } from './fragment.js';
import type { DiskBacking, PlannedDisk } from './types.js';

/** The one virtio-scsi controller, its port and its bus (also used for SCSI hotplug). */
export const SCSI_CONTROLLER = { id: 'scsi0', port: rootPortId('scsi'), bus: 'scsi0.0' } as const;
/** q35's AHCI controller has six ports, ide.0 to ide.5, and no hotplug. */
export { MAX_SATA_DISKS } from '../../api/sizes.js';
/** virtio-blk reports at most 20 bytes of serial; the same cut everywhere keeps by-id names alike. */
export const MAX_SERIAL = 20;

/** Linux's disk suffixes: a..z, aa..az, ... */
export function driveLetters(index: number): string {
  let out = '';
  for (let n = index + 1; n > 0; n = Math.floor(n / 26)) {
    n -= 1;
    out = String.fromCharCode(97 + (n % 26)) + out;
  }
  return out;
}

/** qdev id of a disk's front end. */
export function diskDeviceId(disk: string): string {
  return `disk-${disk}`;
}

interface Counters {
  vd: number;
  sd: number;
  sr: number;
  scsi: number;
  sata: number;
}

interface FrontEnd {
  driver: string;
  props: OptProps;
  target: string;
  port?: string;
}

/** A cloud-init disk outside virtio is a CD-ROM, which is what cloud-init's probes expect there. */
function isCdrom(disk: ResolvedDisk): boolean {
  return disk.source === 'cloudInit' && disk.bus !== 'virtio';
}

function scsiTarget(disk: ResolvedDisk, counters: Counters): string {
  return isCdrom(disk) ? `sr${counters.sr++}` : `sd${driveLetters(counters.sd++)}`;
}

function sataFrontEnd(disk: ResolvedDisk, counters: Counters): FrontEnd {
  if (counters.sata >= MAX_SATA_DISKS) {
    throw new UnsupportedSpecError(`disk ${disk.name}: q35 has ${MAX_SATA_DISKS} SATA ports and all are taken; use bus virtio or scsi`);
  }
  if (disk.readOnly && !isCdrom(disk)) {
    // QEMU's ide-hd refuses a read-only node ("Block node is read-only").
    throw new UnsupportedSpecError(`disk ${disk.name}: a SATA disk cannot be read-only; use bus virtio or scsi`);
  }
  const driver = isCdrom(disk) ? 'ide-cd' : 'ide-hd';
  return { driver, props: { bus: `ide.${counters.sata++}` }, target: scsiTarget(disk, counters) };
}

function frontEnd(disk: ResolvedDisk, counters: Counters): FrontEnd {
  switch (disk.bus) {
    case 'virtio': {
      const port = rootPortId('disk', disk.name);
      return { driver: 'virtio-blk-pci', props: { bus: port }, target: `vd${driveLetters(counters.vd++)}`, port };
    }
    case 'scsi': {
      // One target per disk, as QEMU's own auto-assignment would do; hotplugged disks take the next free one.
      const props = { bus: SCSI_CONTROLLER.bus, channel: 0, 'scsi-id': counters.scsi++, lun: 0 };
      const driver = isCdrom(disk) ? 'scsi-cd' : 'scsi-hd';
      return { driver, props, target: scsiTarget(disk, counters), port: SCSI_CONTROLLER.port };
    }
    case 'sata':
      return sataFrontEnd(disk, counters);
  }
}

function deviceProps(disk: ResolvedDisk, nodeName: string): OptProps {
  return {
    drive: nodeName,
    serial: disk.name.slice(0, MAX_SERIAL),
    bootindex: disk.bootOrder,
    'write-cache': disk.readOnly ? undefined : guestWriteCache(disk.cache),
    // Pause the VM on an I/O error (e.g. a full thin PVC) instead of letting the guest see it
    // and remount read-only or corrupt a file system; the launcher reports the STOP.
    werror: 'stop',
    rerror: 'stop',
  };
}

function backingOf(disk: ResolvedDisk, backings: Readonly<Record<string, DiskBacking>>): DiskBacking {
  const backing = backings[disk.name];
  if (!backing) throw new LauncherInputError(`disk ${disk.name} has no backing file or device; the launcher must provide one`);
  return backing;
}

/** What {@link diskFragment} needs. */
export interface DiskFragmentInput {
  vm: Pick<LauncherVm, 'disks'>;
  backings: Readonly<Record<string, DiskBacking>>;
}

/** Disk devices and where they ended up. */
export interface DiskFragment extends Fragment {
  disks: Record<string, PlannedDisk>;
  scsiBus?: string;
}

function scsiControllerArgs(): string[] {
  return device('virtio-scsi-pci', { id: SCSI_CONTROLLER.id, bus: SCSI_CONTROLLER.port });
}

/** Block nodes and front ends of every cold-plugged disk, in spec order (which fixes vdX names). */
export function diskFragment({ vm, backings }: DiskFragmentInput): DiskFragment {
  const counters: Counters = { vd: 0, sd: 0, sr: 0, scsi: 0, sata: 0 };
  // The controller also serves hotpluggable SCSI disks, so any SCSI disk brings it.
  const scsi = vm.disks.some((d) => d.bus === 'scsi');
  const args: string[] = scsi ? scsiControllerArgs() : [];
  const ports: string[] = scsi ? [SCSI_CONTROLLER.port] : [];
  const disks: Record<string, PlannedDisk> = {};
  for (const disk of vm.disks.filter((d) => !d.hotpluggable)) {
    const nodes = diskNodes({ disk, backing: backingOf(disk, backings) });
    const nodeName = nodes[nodes.length - 1]!['node-name'];
    const front = frontEnd(disk, counters);
    args.push(...nodes.flatMap((node) => blockdev(node)), ...device(front.driver, { id: diskDeviceId(disk.name), ...front.props, ...deviceProps(disk, nodeName) }));
    if (disk.bus === 'virtio' && front.port) ports.push(front.port);
    disks[disk.name] = { deviceId: diskDeviceId(disk.name), nodeName, target: front.target, ...(front.port ? { port: front.port } : {}) };
  }
  return { args, ports, disks, ...(scsi ? { scsiBus: SCSI_CONTROLLER.bus } : {}) };
}
