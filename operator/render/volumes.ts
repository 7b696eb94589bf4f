/**
 * Pod volumes for a VM's disks: PVCs (file or block) and the claims of image disks, emptyDisks,
 * containerDisks (image volumes, or copies by init containers), cloud-init Secrets, plus the
 * launcher's own runtime and podinfo volumes.
 */
import type { V1Container, V1Volume, V1VolumeDevice, V1VolumeMount } from '@kubernetes/client-node';
import { LAYOUT, VM_ANNOTATION } from '../../api/layout.js';
import { formatBytes, parseQuantity } from '../../api/quantity.js';
import { vmImageDiskClaim } from '../../api/claims.js';
import type { ResolvedDisk, ResolvedVm } from '../../api/resolve.js';
import type { ContainerDiskDelivery } from '../../api/schema/config.js';
import type { DiskSpec } from '../../api/schema/vm.js';
import { usableBytes } from './image-claims.js';

type ContainerDiskSource = NonNullable<DiskSpec['containerDisk']>;

/** What the operator read of a PVC: how it stores data (spec.volumeMode) and its size. */
export interface PvcInfo {
  mode: 'Filesystem' | 'Block';
  sizeBytes: number;
}

/** PVCs by claim name, when known; an unknown claim is taken as Filesystem of unknown size. */
export type PvcInfos = Readonly<Record<string, PvcInfo>>;

/** Everything the disks add to the pod. */
export interface DiskVolumes {
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
  devices: V1VolumeDevice[];
  initContainers: V1Container[];
}

const diskVolume = (disk: ResolvedDisk) => `disk-${disk.name}`;

/** Volumes the launcher always has: the VM description, its credentials, scratch space. */
export function baseVolumes(vm: ResolvedVm): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  return {
    volumes: [
      {
        name: 'podinfo',
        downwardAPI: { items: [{ path: 'vm.json', fieldRef: { fieldPath: `metadata.annotations['${VM_ANNOTATION}']` } }] },
      },
      { name: 'credentials', secret: { secretName: credentialsSecretName(vm.name), defaultMode: 0o400 } },
      { name: 'runtime', emptyDir: {} },
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
      ...(vm.memory.hugepages ? [{ name: 'hugepages', emptyDir: { medium: `HugePages-${vm.memory.hugepages}` } }] : []),
    ],
    mounts: [
      { name: 'podinfo', mountPath: LAYOUT.podinfoDir, readOnly: true },
      { name: 'credentials', mountPath: LAYOUT.credentialsDir, readOnly: true },
      { name: 'runtime', mountPath: LAYOUT.runtimeDir },
      { name: 'tmp', mountPath: '/tmp' },
      ...(vm.memory.hugepages ? [{ name: 'hugepages', mountPath: LAYOUT.hugepagesDir }] : []),
    ],
  };
}

/**
 * Name of the per-VM Secret the operator writes (and never reads back): the launcher's
 * certificate and key, the CA of its clients, the NBD key (CREDENTIAL_KEYS).
 */
export function credentialsSecretName(vm: string): string {
  return `${vm}-launcher-credentials`;
}

/** The claim a cold-plugged disk mounts: its PVC, or the VM's own claim made from an image. */
export function diskClaimName(vm: string, disk: ResolvedDisk): string | undefined {
  if (disk.spec.image) return vmImageDiskClaim(vm, disk.name);
  return disk.spec.persistentVolumeClaim?.claimName;
}

function pvcVolumes(vm: string, disk: ResolvedDisk, pvcs: PvcInfos): Partial<DiskVolumes> {
  const claimName = diskClaimName(vm, disk);
  if (!claimName || disk.hotpluggable) return {}; // hotplugged PVCs reach QEMU through attachment pods
  const volume = { name: diskVolume(disk), persistentVolumeClaim: { claimName, readOnly: disk.readOnly } };
  if (pvcs[claimName]?.mode === 'Block') {
    return { volumes: [volume], devices: [{ name: volume.name, devicePath: LAYOUT.blockDevice(disk.name) }] };
  }
  return { volumes: [volume], mounts: [{ name: volume.name, mountPath: LAYOUT.diskDir(disk.name), readOnly: disk.readOnly }] };
}

function emptyDiskVolumes(disk: ResolvedDisk): Partial<DiskVolumes> {
  const capacity = disk.spec.emptyDisk?.capacity;
  if (capacity === undefined) return {};
  // The image is sparse, but its filesystem metadata needs a little room beyond the capacity.
  const sizeLimit = formatBytes(Math.ceil(parseQuantity(capacity) / 2 ** 20) * 2 ** 20 + 2 ** 20);
  return {
    volumes: [{ name: diskVolume(disk), emptyDir: { sizeLimit } }],
    mounts: [{ name: diskVolume(disk), mountPath: LAYOUT.diskDir(disk.name) }],
  };
}

/**
 * delivery copy: a containerDisk image usually holds nothing but /disk/<image file> (no shell,
 * no cp), so a static busybox that the launcher image ships is handed over in the tools volume
 * and does the copy. No shell: `path` is one argument of `cp`, after `--`, whatever it holds
 * (validateVm refuses odd paths too). `-L` resolves the image's symbolic links here, inside
 * the containerDisk's own container, so the launcher never follows one; the launcher then
 * takes the one regular file in the copy.
 */
function copiedContainerDisk(disk: ResolvedDisk, source: ContainerDiskSource): Partial<DiskVolumes> {
  const copy = [`${LAYOUT.toolsDir}/busybox`, 'cp', '-R', '-L', '--', source.path ?? '/disk', LAYOUT.containerDiskCopy(disk.name)];
  return {
    volumes: [{ name: diskVolume(disk), emptyDir: {} }],
    mounts: [{ name: diskVolume(disk), mountPath: LAYOUT.diskDir(disk.name), readOnly: disk.readOnly }],
    initContainers: [
      {
        name: `containerdisk-${disk.name}`,
        image: source.image,
        ...(source.imagePullPolicy ? { imagePullPolicy: source.imagePullPolicy } : {}),
        command: copy,
        volumeMounts: [
          { name: 'tools', mountPath: LAYOUT.toolsDir, readOnly: true },
          { name: diskVolume(disk), mountPath: LAYOUT.diskDir(disk.name) },
        ],
      },
    ],
  };
}

/**
 * delivery imageVolume: the image is mounted read-only (the kubelet pulls it like a container
 * image, and reports a pull failure on the pod the same way); the launcher finds `path` inside
 * without following a link out of the mount. A writable disk also gets scratch space for its
 * qcow2 overlay, so guest writes never touch the image and last as long as the pod.
 */
function mountedContainerDisk(disk: ResolvedDisk, source: ContainerDiskSource): Partial<DiskVolumes> {
  const image = `image-${disk.name}`;
  const overlay = disk.readOnly ? undefined : diskVolume(disk);
  return {
    volumes: [
      { name: image, image: { reference: source.image, ...(source.imagePullPolicy ? { pullPolicy: source.imagePullPolicy } : {}) } },
      ...(overlay ? [{ name: overlay, emptyDir: {} }] : []),
    ],
    mounts: [
      { name: image, mountPath: LAYOUT.containerDiskMount(disk.name), readOnly: true },
      ...(overlay ? [{ name: overlay, mountPath: LAYOUT.diskDir(disk.name) }] : []),
    ],
  };
}

function containerDiskVolumes(disk: ResolvedDisk, delivery: ContainerDiskDelivery): Partial<DiskVolumes> {
  const source = disk.spec.containerDisk;
  if (!source) return {};
  return delivery === 'copy' ? copiedContainerDisk(disk, source) : mountedContainerDisk(disk, source);
}

function cloudInitVolumes(disk: ResolvedDisk): Partial<DiskVolumes> {
  const ref = disk.spec.cloudInit?.userDataSecretRef;
  if (!ref) return {}; // inline data travels in the VM annotation; the launcher writes the ISO
  const name = `cloudinit-${disk.name}`;
  return {
    volumes: [{ name, secret: { secretName: ref.name, defaultMode: 0o400 } }],
    mounts: [{ name, mountPath: LAYOUT.cloudInitSecretDir(disk.name), readOnly: true }],
  };
}

/** The init container that hands the launcher image's static busybox to containerDisk copies. */
function toolsInit(launcherImage: string): V1Container {
  return {
    name: 'tools',
    image: launcherImage,
    command: ['cp', '/usr/lib/kubevmm/busybox', `${LAYOUT.toolsDir}/busybox`],
    volumeMounts: [{ name: 'tools', mountPath: LAYOUT.toolsDir }],
  };
}

/** Volumes, mounts, block devices and init containers for every disk of `vm`. */
export function diskVolumes(vm: ResolvedVm, opts: { launcherImage: string; pvcs: PvcInfos; containerDiskDelivery: ContainerDiskDelivery }): DiskVolumes {
  const parts = vm.disks.map((disk) => {
    if (disk.source === 'persistentVolumeClaim' || disk.source === 'image') return pvcVolumes(vm.name, disk, opts.pvcs);
    if (disk.source === 'emptyDisk') return emptyDiskVolumes(disk);
    if (disk.source === 'containerDisk') return containerDiskVolumes(disk, opts.containerDiskDelivery);
    return cloudInitVolumes(disk);
  });
  const out: DiskVolumes = {
    volumes: parts.flatMap((p) => p.volumes ?? []),
    mounts: parts.flatMap((p) => p.mounts ?? []),
    devices: parts.flatMap((p) => p.devices ?? []),
    initContainers: parts.flatMap((p) => p.initContainers ?? []),
  };
  if (out.initContainers.length) {
    out.volumes.push({ name: 'tools', emptyDir: { sizeLimit: '8Mi' } });
    out.initContainers.unshift(toolsInit(opts.launcherImage));
  }
  return out;
}

/**
 * `--disk-size NAME=BYTES` for each cold-plugged Filesystem PVC of known size: a blank claim
 * (a new dynamically provisioned one) holds no disk.img, and the launcher creates a sparse
 * one of the claim's size, as attachment pods do for hotplugged claims. For an image disk it
 * is the size its raw image is grown to (launcher/runtime/disks.ts growRawImage).
 */
export function diskSizeArgs(vm: ResolvedVm, pvcs: PvcInfos): string[] {
  return vm.disks.flatMap((disk) => {
    const claim = disk.hotpluggable ? undefined : diskClaimName(vm.name, disk);
    const info = claim ? pvcs[claim] : undefined;
    if (info?.mode !== 'Filesystem' || info.sizeBytes <= 0) return [];
    // An image disk's disk.img is grown to what its claim holds beside the filesystem's own needs.
    const bytes = disk.source === 'image' ? usableBytes(info.sizeBytes, 'Filesystem') : info.sizeBytes;
    return ['--disk-size', `${disk.name}=${bytes}`];
  });
}
