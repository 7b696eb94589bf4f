/**
 * Attachment pods (ADR 0005): one per hotplugged PVC, on the VM's node, running the launcher
 * image's `export` command (qemu-storage-daemon) to serve the PVC over NBD with TLS-PSK. The
 * launcher's QEMU reaches it by a stable DNS name (a headless Service per VM), so a
 * recreated attachment pod is found again by QEMU's NBD reconnect. Pure.
 */
import { createHash } from 'node:crypto';
import type { V1OwnerReference, V1Pod, V1Service, V1Toleration } from '@kubernetes/client-node';
import { DISK_LABEL, NBD_EXPORT, PSK_KEY, VM_LABEL } from '../../api/layout.js';
import { API_VERSION } from '../../api/schema/common.js';
import type { OperatorConfig } from '../../api/schema/config.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { containerSecurityContext, podSecurityContext } from './security.js';
import { credentialsSecretName } from './volumes.js';

/** Value of `app.kubernetes.io/component` on attachment pods. */
export const ATTACHMENT_COMPONENT = 'attachment';

/** What one attachment pod exports. */
export interface AttachmentInput {
  vm: VirtualMachine;
  config: Pick<OperatorConfig, 'launcherImage'>;
  disk: { name: string; claimName: string; readOnly: boolean };
  /** The node the VM's launcher runs on: the export must be local to it. */
  node: string;
  /** How the PVC stores data, and its size (the disk.img created in a Filesystem PVC). */
  pvc: { mode: 'Filesystem' | 'Block'; sizeBytes: number };
}

/** A DNS label from `base` and `suffix`, shortened with a hash when it would exceed 63 characters. */
export function boundedLabel(prefix: string, base: string): string {
  const whole = `${prefix}${base}`;
  if (whole.length <= 63) return whole;
  const hash = createHash('sha256').update(base).digest('hex').slice(0, 8);
  return `${prefix}${base.slice(0, 63 - prefix.length - 9).replace(/-+$/, '')}-${hash}`;
}

/** The headless Service that gives a VM's attachment pods stable DNS names. */
export function hotplugServiceName(vm: string): string {
  return boundedLabel('hotplug-', vm);
}

/** The attachment pod's name for one hotplugged disk. */
export function attachmentPodName(vm: string, disk: string): string {
  return `${vm}-hotplug-${disk}`;
}

/** The pod's hostname inside the hotplug Service (a DNS label). */
function attachmentHostname(disk: string): string {
  return `disk-${disk}`;
}

/** The NBD server name the launcher connects to: stable across attachment pod restarts. */
export function attachmentHost(vm: string, namespace: string, disk: string): string {
  return `${attachmentHostname(disk)}.${hotplugServiceName(vm)}.${namespace}.svc`;
}

function ownedBy(vm: VirtualMachine): V1OwnerReference[] {
  const uid = vm.metadata.uid;
  return uid ? [{ apiVersion: API_VERSION, kind: 'VirtualMachine', name: vm.metadata.name, uid, controller: true, blockOwnerDeletion: true }] : [];
}

function labels(vm: string, disk?: string): Record<string, string> {
  return {
    [VM_LABEL]: vm,
    ...(disk ? { [DISK_LABEL]: disk } : {}),
    'app.kubernetes.io/name': 'kubevmm-attachment',
    'app.kubernetes.io/component': ATTACHMENT_COMPONENT,
    'app.kubernetes.io/managed-by': 'kubevmm',
  };
}

/** The export command: a Filesystem PVC holds disk.img (created at the PVC's size when absent). */
function exportArgs(input: AttachmentInput): string[] {
  const block = input.pvc.mode === 'Block';
  return [
    'export',
    '--source', block ? NBD_EXPORT.blockDevice : NBD_EXPORT.volumeDir,
    '--mode', block ? 'block' : 'filesystem',
    '--size', String(input.pvc.sizeBytes),
    '--port', String(NBD_EXPORT.port),
    '--psk-dir', NBD_EXPORT.pskDir,
    ...(input.disk.readOnly ? ['--read-only'] : []),
  ];
}

/** Required node affinity to exactly the VM's node (as DaemonSet pods are pinned). */
function pinnedTo(node: string) {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
      },
    },
  };
}

/** The attachment pod exporting one hotplugged PVC to the VM's launcher. */
export function renderAttachmentPod(input: AttachmentInput): V1Pod {
  const { vm, disk } = input;
  const name = vm.metadata.name;
  const block = input.pvc.mode === 'Block';
  const volume = { name: 'disk', persistentVolumeClaim: { claimName: disk.claimName, readOnly: disk.readOnly } };
  const tolerations: V1Toleration[] = (vm.spec.tolerations as V1Toleration[] | undefined) ?? [];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: attachmentPodName(name, disk.name), namespace: vm.metadata.namespace, labels: labels(name, disk.name), ownerReferences: ownedBy(vm) },
    spec: {
      // A crashed export restarts in place (same IP); only a deleted pod moves.
      restartPolicy: 'Always',
      hostname: attachmentHostname(disk.name),
      subdomain: hotplugServiceName(name),
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: podSecurityContext(),
      affinity: pinnedTo(input.node),
      ...(tolerations.length ? { tolerations } : {}),
      ...(vm.spec.priorityClassName ? { priorityClassName: vm.spec.priorityClassName } : {}),
      terminationGracePeriodSeconds: 30,
      containers: [
        {
          name: 'export',
          image: input.config.launcherImage,
          args: exportArgs(input),
          ports: [{ name: 'nbd', containerPort: NBD_EXPORT.port, protocol: 'TCP' }],
          // The bundled Node runner (~50 MiB) plus qemu-storage-daemon (~10 MiB); I/O is the PVC's.
          resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '160Mi' } },
          securityContext: containerSecurityContext(),
          readinessProbe: { tcpSocket: { port: NBD_EXPORT.port }, periodSeconds: 2, failureThreshold: 1 },
          // An export that stops accepting connections for a minute is restarted in place
          // (restartPolicy Always, same IP); QEMU's NBD reconnect rides it out.
          livenessProbe: { tcpSocket: { port: NBD_EXPORT.port }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 6 },
          volumeMounts: [{ name: 'psk', mountPath: NBD_EXPORT.pskDir, readOnly: true }, ...(block ? [] : [{ name: 'disk', mountPath: NBD_EXPORT.volumeDir, readOnly: disk.readOnly }])],
          ...(block ? { volumeDevices: [{ name: 'disk', devicePath: NBD_EXPORT.blockDevice }] } : {}),
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
      volumes: [volume, { name: 'psk', secret: { secretName: credentialsSecretName(name), items: [{ key: PSK_KEY, path: PSK_KEY }], defaultMode: 0o400 } }],
    },
  };
}

/** The headless Service behind {@link attachmentHost}: DNS only, no proxying. */
export function renderHotplugService(vm: VirtualMachine): V1Service {
  const name = vm.metadata.name;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: hotplugServiceName(name), namespace: vm.metadata.namespace, labels: labels(name), ownerReferences: ownedBy(vm) },
    spec: {
      clusterIP: 'None',
      selector: { [VM_LABEL]: name, 'app.kubernetes.io/component': ATTACHMENT_COMPONENT },
      ports: [{ name: 'nbd', port: NBD_EXPORT.port, targetPort: NBD_EXPORT.port, protocol: 'TCP' }],
      // The launcher reconnects by name: publish an export's address as soon as it has one.
      publishNotReadyAddresses: true,
    },
  };
}
