/**
 * renderLauncherPod: VM (+ class) (+ operator config) -> the launcher Pod. Pure: the same input
 * always gives the same Pod, and nothing here reads the cluster or the disk.
 */
import type { V1ContainerPort, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import { BOOT_DISKS_ANNOTATION, CONTROL_PORT, LAYOUT, launcherPodName, SPEC_HASH_ANNOTATION, VM_ANNOTATION, VM_LABEL } from '../../api/layout.js';
import { launcherVm, type ResolvedVm } from '../../api/resolve.js';
import type { VirtualMachineClass } from '../../api/schema/class.js';
import { API_VERSION } from '../../api/schema/common.js';
import type { OperatorConfig } from '../../api/schema/config.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { guestConsoleContainer } from './console-log.js';
import { launcherResources } from './resources.js';
import { scheduling } from './scheduling.js';
import { containerSecurityContext, podSecurityContext } from './security.js';
import { specHash, stableJson } from './hash.js';
import { baseVolumes, diskSizeArgs, diskVolumes, type PvcInfos } from './volumes.js';

/** What the renderer needs; the caller looked up the class and the PVCs. */
export interface RenderInput {
  vm: VirtualMachine;
  vmClass?: VirtualMachineClass;
  config: OperatorConfig;
  pvcs?: PvcInfos;
}

/**
 * Init containers only copy files. Requests equal to limits keep a dedicated VM's pod in the
 * Guaranteed QoS class, which requires it of every container, init containers included.
 */
export const INIT_RESOURCES = { requests: { cpu: '100m', memory: '32Mi' }, limits: { cpu: '100m', memory: '32Mi' } };

export { launcherPodName } from '../../api/layout.js';

function ownerReference(vm: VirtualMachine): V1OwnerReference[] {
  const uid = vm.metadata.uid;
  if (!uid) return [];
  return [{ apiVersion: API_VERSION, kind: 'VirtualMachine', name: vm.metadata.name, uid, controller: true, blockOwnerDeletion: true }];
}

/** Ports the guest serves through masquerade, plus the control API. */
function containerPorts(vm: ResolvedVm): V1ContainerPort[] {
  const guest = vm.interfaces
    .filter((i) => i.binding === 'masquerade')
    .flatMap((i) => i.ports.map((p) => ({ containerPort: p.port, protocol: p.protocol, ...(p.name ? { name: p.name } : {}) })));
  return [{ name: 'control', containerPort: CONTROL_PORT, protocol: 'TCP' }, ...guest];
}

/** The launcher Pod for `input.vm`. The VM must have passed validateVm. */
export function renderLauncherPod(input: RenderInput): V1Pod {
  const vm = launcherVm(input.vm, input.vmClass, input.config);
  const base = baseVolumes(vm);
  const disks = diskVolumes(vm, { launcherImage: input.config.launcherImage, pvcs: input.pvcs ?? {}, containerDiskDelivery: input.config.containerDiskDelivery });
  const security = containerSecurityContext();
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: launcherPodName(vm.name),
      namespace: vm.namespace,
      labels: { [VM_LABEL]: vm.name, 'app.kubernetes.io/name': 'kubevmm-launcher', 'app.kubernetes.io/managed-by': 'kubevmm' },
      annotations: {
        [SPEC_HASH_ANNOTATION]: specHash(vm),
        [VM_ANNOTATION]: stableJson(vm),
        [BOOT_DISKS_ANNOTATION]: vm.disks.filter((d) => !d.hotpluggable).map((d) => d.name).join(','),
      },
      ownerReferences: ownerReference(input.vm),
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: podSecurityContext(),
      ...scheduling(vm),
      initContainers: [
        guestConsoleContainer(input.config.launcherImage, vm.cpu.dedicated),
        // A failed copy's stderr ("no disk image in ...") becomes the reason the VM shows.
        ...disks.initContainers.map((c) => ({ ...c, resources: INIT_RESOURCES, securityContext: security, terminationMessagePolicy: 'FallbackToLogsOnError' })),
      ],
      containers: [
        {
          name: 'launcher',
          image: input.config.launcherImage,
          args: [
            'run',
            ...['--vm', LAYOUT.vmFile, '--control-port', String(CONTROL_PORT)],
            ...['--tls-cert', LAYOUT.tlsCertFile, '--tls-key', LAYOUT.tlsKeyFile, '--client-ca', LAYOUT.clientCaFile],
            ...diskSizeArgs(vm, input.pvcs ?? {}),
          ],
          ports: containerPorts(vm),
          resources: launcherResources(vm, input.config),
          securityContext: security,
          volumeMounts: [...base.mounts, ...disks.mounts],
          ...(disks.devices.length ? { volumeDevices: disks.devices } : {}),
          // HTTPS: the kubelet does not verify the certificate and sends none of its own,
          // which /readyz allows (launcher/control/README.md).
          readinessProbe: { httpGet: { path: '/readyz', port: CONTROL_PORT, scheme: 'HTTPS' }, periodSeconds: 2, failureThreshold: 1 },
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
      volumes: [...base.volumes, ...disks.volumes],
    },
  };
}
