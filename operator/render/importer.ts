/**
 * Importer pods (api/contract/importer.ts): one per VirtualMachineImage import, and one per VM
 * disk copied from an image where no CSI clone is possible. They run the launcher image's
 * `import` command, unprivileged like launchers (UID 107, no capabilities, read-only root, no
 * service account token), read their task from an annotation through the downward API, and
 * serve their progress over mutual TLS with credentials issued for their owner's UID. Pure.
 */
import type { V1Container, V1OwnerReference, V1Pod, V1Volume, V1VolumeDevice, V1VolumeMount } from '@kubernetes/client-node';
import { IMPORTER_CLIENT_KEYS } from '../../api/contract/claim-source.js';
import { IMPORT_ANNOTATION, IMPORTER_ARGS, IMPORTER_LAYOUT, IMPORTER_PORT, type ImportTask } from '../../api/contract/importer.js';
import { CREDENTIAL_KEYS, LAYOUT } from '../../api/layout.js';
import { formatBytes } from '../../api/quantity.js';
import { API_VERSION } from '../../api/schema/common.js';
import { containerSecurityContext, podSecurityContext } from './security.js';

/** Label on an image's importer pod naming the image (the operator's image pod cache selects it). */
export const IMAGE_LABEL = 'kubevmm.io/image';
/** Label on a VM's disk copy pod naming the disk (not kubevmm.io/disk: that marks attachment pods). */
export const COPY_DISK_LABEL = 'kubevmm.io/copy-disk';
/**
 * The owner's metadata.generation a pod was made for: an importer of an older spec is
 * replaced, and a finished one is never started again for the same spec.
 */
export const GENERATION_ANNOTATION = 'kubevmm.io/generation';

/** The `app.kubernetes.io/name` of importer and copy pods (their NetworkPolicy selects it). */
export const IMPORTER_APP_NAME = 'kubevmm-importer';

/** The importer pod of an image: deterministic, so a restarted operator finds it instead of making a second. */
export function importerPodName(image: string): string {
  return `${image}-importer`;
}

/** The Secret holding an image importer's certificate (issued for the image's UID). */
export function importerSecretName(image: string): string {
  return `${image}-importer-credentials`;
}

/** The pod copying an image into a VM disk's claim. */
export function copyPodName(vm: string, disk: string): string {
  return `${vm}-copy-${disk}`;
}

/** A claim as the importer sees it. */
export interface ImporterClaim {
  claimName: string;
  mode: 'Filesystem' | 'Block';
}

/** A containerDisk-style registry image whose disk an init container copies into scratch space. */
export interface RegistryCopy {
  image: string;
  /** The file, or a directory holding exactly one file, in the image. */
  path: string;
}

/** Everything one importer pod is made from. */
export interface ImporterPodInput {
  name: string;
  namespace: string;
  owner: { kind: 'VirtualMachineImage' | 'VirtualMachine'; name: string; uid: string; generation: number };
  labels: Record<string, string>;
  launcherImage: string;
  task: ImportTask;
  target: ImporterClaim;
  /** Read-only source claim (a `pvc` image, or an image claim copied into a VM disk). */
  source?: ImporterClaim;
  registry?: RegistryCopy;
  /** Size of the scratch emptyDir: downloads needing random access (xz, vmdk, OVA), uploads, registry copies. */
  scratchBytes: number;
  /** Secret with tls.crt, tls.key and ca.crt for the owner's UID. */
  credentialsSecret: string;
}

/** Where an init container puts a registry image's disk (the task's `file` source path). */
export const REGISTRY_COPY_PATH = `${IMPORTER_LAYOUT.scratchDir}/registry-disk`;

/** The task's `file` path for a source claim: its disk.img, or the device. */
export function sourceFilePath(mode: ImporterClaim['mode']): string {
  return mode === 'Block' ? IMPORTER_LAYOUT.sourceDevice : `${IMPORTER_LAYOUT.sourceDir}/${LAYOUT.diskImage}`;
}

function ownerReferences(owner: ImporterPodInput['owner']): V1OwnerReference[] {
  return [{ apiVersion: API_VERSION, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }];
}

/** A claim as a mounted directory or a block device. */
function claimVolume(volume: string, claim: ImporterClaim, at: { dir: string; device: string; readOnly: boolean }) {
  const volumes: V1Volume[] = [{ name: volume, persistentVolumeClaim: { claimName: claim.claimName, readOnly: at.readOnly } }];
  if (claim.mode === 'Block') return { volumes, mounts: [] as V1VolumeMount[], devices: [{ name: volume, devicePath: at.device }] as V1VolumeDevice[] };
  return { volumes, mounts: [{ name: volume, mountPath: at.dir, readOnly: at.readOnly }] as V1VolumeMount[], devices: [] as V1VolumeDevice[] };
}

/**
 * The registry image usually holds nothing but its disk file (no shell, no cp), so the launcher
 * image's static busybox is handed over in a tools volume and copies PATH (the file, or the
 * directory holding it) as for containerDisks (render/volumes.ts): one argument after `--`,
 * no shell; `-L` resolves the image's own links inside its own container. The importer takes
 * the copy itself or the one file in it, and refuses a directory of several.
 */
function registryInit(input: ImporterPodInput, registry: RegistryCopy): V1Container[] {
  const busybox = `${LAYOUT.toolsDir}/busybox`;
  const security = containerSecurityContext();
  const resources = { requests: { cpu: '100m', memory: '32Mi' }, limits: { cpu: '500m', memory: '64Mi' } };
  return [
    { name: 'tools', image: input.launcherImage, command: ['cp', '/usr/lib/kubevmm/busybox', busybox], volumeMounts: [{ name: 'tools', mountPath: LAYOUT.toolsDir }], resources, securityContext: security },
    {
      name: 'registry',
      image: registry.image,
      command: [busybox, 'cp', '-R', '-L', '--', registry.path, REGISTRY_COPY_PATH],
      volumeMounts: [
        { name: 'tools', mountPath: LAYOUT.toolsDir, readOnly: true },
        { name: 'scratch', mountPath: IMPORTER_LAYOUT.scratchDir },
      ],
      resources,
      securityContext: security,
      terminationMessagePolicy: 'FallbackToLogsOnError',
    },
  ];
}

/** The credentials files the importer serves with (the Secret's NBD key is left out), and its client certificate when it pulls from a source pod. */
function credentialsVolume(secretName: string, claimCopy: boolean): V1Volume {
  const keys = [CREDENTIAL_KEYS.cert, CREDENTIAL_KEYS.key, CREDENTIAL_KEYS.clientCa, ...(claimCopy ? [IMPORTER_CLIENT_KEYS.cert, IMPORTER_CLIENT_KEYS.key] : [])];
  const items = keys.map((key) => ({ key, path: key }));
  return { name: 'credentials', secret: { secretName, items, defaultMode: 0o400 } };
}

/** The importer pod for `input`. */
export function renderImporterPod(input: ImporterPodInput): V1Pod {
  const target = claimVolume('target', input.target, { dir: IMPORTER_LAYOUT.targetDir, device: IMPORTER_LAYOUT.targetDevice, readOnly: false });
  const source = input.source ? claimVolume('source', input.source, { dir: IMPORTER_LAYOUT.sourceDir, device: IMPORTER_LAYOUT.sourceDevice, readOnly: true }) : undefined;
  const devices = [...target.devices, ...(source?.devices ?? [])];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: { ...input.labels, 'app.kubernetes.io/name': IMPORTER_APP_NAME, 'app.kubernetes.io/managed-by': 'kubevmm' },
      annotations: { [IMPORT_ANNOTATION]: JSON.stringify(input.task), [GENERATION_ANNOTATION]: String(input.owner.generation) },
      ownerReferences: ownerReferences(input.owner),
    },
    spec: {
      // Transient failures are retried inside the importer; its exit is the verdict.
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: podSecurityContext(),
      ...(input.registry ? { initContainers: registryInit(input, input.registry) } : {}),
      containers: [
        {
          name: 'importer',
          image: input.launcherImage,
          args: [...IMPORTER_ARGS],
          ports: [{ name: 'importer', containerPort: IMPORTER_PORT, protocol: 'TCP' }],
          // qemu-img convert streams; decompression and hashing are bounded buffers.
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } },
          securityContext: containerSecurityContext(),
          volumeMounts: [
            { name: 'podinfo', mountPath: IMPORTER_LAYOUT.podinfoDir, readOnly: true },
            { name: 'credentials', mountPath: IMPORTER_LAYOUT.credentialsDir, readOnly: true },
            { name: 'scratch', mountPath: IMPORTER_LAYOUT.scratchDir },
            { name: 'tmp', mountPath: '/tmp' },
            ...target.mounts,
            ...(source?.mounts ?? []),
          ],
          ...(devices.length ? { volumeDevices: devices } : {}),
          // Ready once its API listens: the upload relay and the operator's polls wait for it.
          readinessProbe: { tcpSocket: { port: IMPORTER_PORT }, periodSeconds: 2, failureThreshold: 1 },
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
      volumes: [
        { name: 'podinfo', downwardAPI: { items: [{ path: 'task.json', fieldRef: { fieldPath: `metadata.annotations['${IMPORT_ANNOTATION}']` } }] } },
        credentialsVolume(input.credentialsSecret, input.task.source.kind === 'claim'),
        { name: 'scratch', emptyDir: { sizeLimit: formatBytes(input.scratchBytes) } },
        { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
        ...(input.registry ? [{ name: 'tools', emptyDir: { sizeLimit: '8Mi' } }] : []),
        ...target.volumes,
        ...(source?.volumes ?? []),
      ],
    },
  };
}
