/** Rules on spec.disks: names, boot order, sources, hotplug and cloud-init. */
import { MAX_DISK_BYTES, MAX_SATA_DISKS } from '../sizes.js';
import { DISK_SOURCES, LIMITS, type DiskSpec } from '../schema/vm.js';
import type { Finding, Rule } from './context.js';
import { byteQuantity } from './sizes.js';

/** Paths of entries that repeat an earlier entry's key, with a message naming the first. */
function duplicates<T>(items: readonly T[], keyOf: (item: T) => unknown, field: (i: number) => string): Finding[] {
  const seen = new Map<unknown, number>();
  const out: Finding[] = [];
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (key === undefined) return;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else out.push({ path: field(i), message: `duplicate value ${JSON.stringify(key)}, already used by ${field(first)}; use a unique value` });
  });
  return out;
}

/** The sources a disk sets. */
export function diskSources(disk: DiskSpec): (typeof DISK_SOURCES)[number][] {
  return DISK_SOURCES.filter((s) => disk[s] !== undefined);
}

export const uniqueDiskNames: Rule = ({ spec }) =>
  duplicates(spec.disks ?? [], (d) => d.name, (i) => `spec.disks[${i}].name`);

export const uniqueBootOrder: Rule = ({ spec }) =>
  duplicates(spec.disks ?? [], (d) => d.bootOrder, (i) => `spec.disks[${i}].bootOrder`);

export const oneSourcePerDisk: Rule = ({ spec }) =>
  (spec.disks ?? []).flatMap((disk, i) => {
    const sources = diskSources(disk);
    if (sources.length === 1) return [];
    const got = sources.length === 0 ? 'none is set' : `${sources.join(' and ')} are set`;
    return [{ path: `spec.disks[${i}]`, message: `set exactly one source (${DISK_SOURCES.join(', ')}); ${got}` }];
  });

export const hotplugOnlyPvc: Rule = ({ spec }) =>
  (spec.disks ?? []).flatMap((disk, i): Finding[] => {
    if (!disk.hotpluggable) return [];
    const path = `spec.disks[${i}].hotpluggable`;
    if (!disk.persistentVolumeClaim) {
      return [{ path, message: 'only persistentVolumeClaim disks can be hotpluggable; remove hotpluggable or use a PVC' }];
    }
    if (disk.bus === 'sata') return [{ path: `spec.disks[${i}].bus`, message: 'sata disks cannot be hotplugged; use virtio or scsi' }];
    if (disk.bootOrder !== undefined) return [{ path, message: 'a hotpluggable disk cannot be a boot disk; remove bootOrder' }];
    return [];
  });

export const emptyDiskCapacity: Rule = ({ spec }) =>
  (spec.disks ?? []).flatMap((disk, i) => {
    const capacity = disk.emptyDisk?.capacity;
    if (capacity === undefined) return [];
    return byteQuantity(capacity, `spec.disks[${i}].emptyDisk.capacity`, { min: 2 ** 20, max: MAX_DISK_BYTES, example: '10Gi' });
  });

export const imageDiskSize: Rule = ({ spec }) =>
  (spec.disks ?? []).flatMap((disk, i) => {
    const size = disk.image?.size;
    if (size === undefined) return [];
    return byteQuantity(size, `spec.disks[${i}].image.size`, { min: 2 ** 20, max: MAX_DISK_BYTES, example: '20Gi' });
  });

/**
 * One disk per claim: the same PVC twice (two disks, or a boot disk and a hotplug disk) is one
 * disk image opened twice by one QEMU, which corrupts it or fails on its lock.
 */
export const uniqueClaims: Rule = ({ spec }) =>
  duplicates(spec.disks ?? [], (d) => d.persistentVolumeClaim?.claimName, (i) => `spec.disks[${i}].persistentVolumeClaim.claimName`).map((f) => ({
    path: f.path,
    message: f.message.replace('; use a unique value', '; a claim can back one disk of a VM only (one disk image opened twice corrupts it)'),
  }));

export const cloudInitDisks: Rule = ({ spec }) => {
  const disks = spec.disks ?? [];
  const indices = disks.flatMap((d, i) => (d.cloudInit ? [i] : []));
  const out: Finding[] = indices.slice(1).map((i) => ({
    path: `spec.disks[${i}].cloudInit`,
    message: `only one cloudInit disk is allowed; spec.disks[${indices[0]}] is one already`,
  }));
  for (const i of indices) out.push(...cloudInitSource(disks[i]?.cloudInit ?? {}, `spec.disks[${i}].cloudInit`));
  return out;
};

function cloudInitSource(ci: NonNullable<DiskSpec['cloudInit']>, path: string): Finding[] {
  if (ci.userData !== undefined && ci.userDataSecretRef !== undefined) {
    return [{ path, message: 'set userData or userDataSecretRef, not both' }];
  }
  if (ci.userData === undefined && ci.userDataSecretRef === undefined) {
    return [{ path, message: 'set userData or userDataSecretRef' }];
  }
  const bytes = Buffer.byteLength(ci.userData ?? '') + Buffer.byteLength(ci.networkData ?? '');
  if (bytes > LIMITS.userDataBytes) {
    return [{ path: `${path}.userData`, message: `is ${bytes} bytes; at most ${LIMITS.userDataBytes} fit inline, use userDataSecretRef` }];
  }
  return [];
}

/** q35's AHCI controller has six ports, and QEMU's ide-hd cannot present a read-only disk. */
export const sataLimits: Rule = ({ spec }) => {
  const sata = (spec.disks ?? []).flatMap((d, i) => (d.bus === 'sata' ? [i] : []));
  const out: Finding[] = sata.slice(MAX_SATA_DISKS).map((i) => ({
    path: `spec.disks[${i}].bus`,
    message: `at most ${MAX_SATA_DISKS} disks can use sata; use virtio or scsi`,
  }));
  for (const i of sata) {
    const d = spec.disks?.[i];
    if (d?.readOnly && !d.cloudInit) out.push({ path: `spec.disks[${i}].readOnly`, message: 'a sata hard disk cannot be read-only; use bus virtio or scsi' });
  }
  return out;
};

/** Every rule on disks, in the order their findings are reported. */
export const diskRules: Rule[] = [uniqueDiskNames, uniqueBootOrder, uniqueClaims, oneSourcePerDisk, hotplugOnlyPvc, emptyDiskCapacity, imageDiskSize, cloudInitDisks, sataLimits];
