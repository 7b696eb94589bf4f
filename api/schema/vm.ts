/** The VirtualMachine kind (namespaced): spec as users write it, status as the operator reports it. */
import { z } from 'zod';
import { affinity } from './affinity.js';
import { API_VERSION, condition, dnsLabel, objectMeta, quantity, toleration } from './common.js';
import { cpuModel, dnsSubdomain, imageRef, labelValue, macAddress, gracePeriod, MAX_BOOT_ORDER, optionalSubdomain, portName, vmName } from './kube.js';

/** Upper bounds that keep CEL validation cost bounded and objects small. */
export const LIMITS = { disks: 64, interfaces: 16, ports: 64, userDataBytes: 64 * 1024 } as const;

export const runStrategy = z.enum(['Always', 'RerunOnFailure', 'Once', 'Manual', 'Halted']);
const topologyValue = z.number().int().min(1).max(512);

export const cpuSpec = z.strictObject({
  cores: topologyValue.optional(),
  sockets: topologyValue.optional(),
  threads: topologyValue.optional(),
  model: cpuModel.optional(),
  dedicated: z.boolean().optional(),
});

export const memorySpec = z.strictObject({
  guest: quantity.optional(),
  hugepages: z.enum(['', '2Mi', '1Gi']).optional(),
});

const port = z.strictObject({
  port: z.number().int().min(1).max(65535),
  protocol: z.enum(['TCP', 'UDP']).optional(),
  name: portName.optional(),
});

/**
 * Disk names become pod volume and init-container names such as `containerdisk-<name>`,
 * which must stay within 63 characters.
 */
const diskName = dnsLabel.max(48);

const pvcSource = z.strictObject({ claimName: dnsSubdomain, readOnly: z.boolean().optional() });
const emptyDiskSource = z.strictObject({ capacity: quantity });
const containerDiskSource = z.strictObject({
  image: imageRef,
  path: z.string().optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
});
const secretRef = z.strictObject({ name: dnsSubdomain });
const cloudInitSource = z.strictObject({
  userData: z.string().optional(),
  userDataSecretRef: secretRef.optional(),
  networkData: z.string().optional(),
});

/** Disk sources: exactly one must be set (checked by CEL in the CRD and by validateVm). */
export const DISK_SOURCES = ['persistentVolumeClaim', 'emptyDisk', 'containerDisk', 'cloudInit'] as const;

export const diskSpec = z
  .strictObject({
    name: diskName,
    bus: z.enum(['virtio', 'scsi', 'sata']).optional(),
    bootOrder: z.number().int().min(1).max(MAX_BOOT_ORDER).optional(),
    readOnly: z.boolean().optional(),
    cache: z.enum(['none', 'writethrough', 'writeback']).optional(),
    hotpluggable: z.boolean().optional(),
    persistentVolumeClaim: pvcSource.optional(),
    emptyDisk: emptyDiskSource.optional(),
    containerDisk: containerDiskSource.optional(),
    cloudInit: cloudInitSource.optional(),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: DISK_SOURCES.map((s) => `(has(self.${s}) ? 1 : 0)`).join(' + ') + ' == 1',
        message: `set exactly one source: ${DISK_SOURCES.join(', ')}`,
      },
    ],
  });


export const interfaceSpec = z.strictObject({
  name: dnsLabel,
  model: z.enum(['virtio', 'e1000e']).optional(),
  binding: z.enum(['masquerade', 'bridge']).optional(),
  ports: z.array(port).max(LIMITS.ports).optional(),
  macAddress: macAddress.optional(),
});

export const devicesSpec = z.strictObject({
  rng: z.boolean().optional(),
  balloon: z.boolean().optional(),
  graphics: z.enum(['vnc', 'none']).optional(),
  guestAgent: z.boolean().optional(),
});

/** Lists keyed by name: server-side apply and `kubectl patch` merge entries by name, not position. */
const listMap = { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] };

const uniqueNames = (what: string) => ({
  rule: 'self.all(x, self.exists_one(y, y.name == x.name))',
  message: `${what} names must be unique`,
});

export const vmSpec = z.strictObject({
  runStrategy: runStrategy.optional(),
  className: optionalSubdomain.optional(),
  cpu: cpuSpec.optional(),
  memory: memorySpec.optional(),
  firmware: z.enum(['bios', 'efi']).optional(),
  disks: z
    .array(diskSpec)
    .max(LIMITS.disks)
    .optional()
    .meta({ ...listMap, 'x-kubernetes-validations': [uniqueNames('disk')] }),
  interfaces: z
    .array(interfaceSpec)
    .max(LIMITS.interfaces)
    .optional()
    .meta({ ...listMap, 'x-kubernetes-validations': [uniqueNames('interface')] }),
  devices: devicesSpec.optional(),
  paused: z.boolean().optional(),
  restartRequestedAt: z.string().optional(),
  terminationGracePeriodSeconds: gracePeriod.optional(),
  nodeSelector: z.record(z.string(), labelValue).optional(),
  affinity: affinity.optional(),
  tolerations: z.array(toleration).max(64).optional(),
  priorityClassName: optionalSubdomain.optional(),
});

export const printableStatus = z.enum([
  'Stopped',
  'Provisioning',
  'Starting',
  'Running',
  'Paused',
  'Stopping',
  'Terminating',
  'CrashLoopBackOff',
  'ErrorUnschedulable',
  'ErrorPvcNotFound',
  'ErrorQuotaExceeded',
  'ErrorRefused',
  'ErrorPvcInUse',
  'Unknown',
]);

export const diskPhase = z.enum(['Pending', 'Attaching', 'Attached', 'Detaching', 'Failed']);

export const vmStatus = z.looseObject({
  printableStatus: printableStatus.optional(),
  observedGeneration: z.number().int().optional(),
  conditions: z.array(condition).optional(),
  nodeName: z.string().optional(),
  launcherPod: z.string().optional(),
  startedAt: z.string().optional(),
  accelerator: z.enum(['kvm', 'tcg']).optional(),
  cpus: z.number().int().optional(),
  memory: z.string().optional(),
  interfaces: z
    .array(z.looseObject({ name: z.string(), ipAddress: z.string().optional(), macAddress: z.string().optional() }))
    .optional(),
  disks: z
    .array(
      z.looseObject({
        name: z.string(),
        phase: diskPhase,
        target: z.string().optional(),
        message: z.string().optional(),
      }),
    )
    .optional(),
  guest: z
    .looseObject({
      agentConnected: z.boolean().optional(),
      hostname: z.string().optional(),
      osName: z.string().optional(),
      kernel: z.string().optional(),
    })
    .optional(),
  restartCount: z.number().int().optional(),
  consecutiveFailures: z.number().int().optional(),
  lastRestartRequestedAt: z.string().optional(),
  lastFailure: z
    .looseObject({ reason: z.string().optional(), message: z.string().optional(), at: z.string().optional() })
    .optional(),
});

export const virtualMachine = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('VirtualMachine'),
  // The VM name becomes pod, Secret and Service names (hotplug-<vm>) and a label value.
  metadata: objectMeta.extend({ name: vmName }),
  spec: vmSpec,
  status: vmStatus.optional(),
});

export type VirtualMachine = z.infer<typeof virtualMachine>;
export type VmSpec = z.infer<typeof vmSpec>;
export type DiskSpec = z.infer<typeof diskSpec>;
export type InterfaceSpec = z.infer<typeof interfaceSpec>;
export type VmStatus = z.infer<typeof vmStatus>;
export type RunStrategy = z.infer<typeof runStrategy>;
export type PrintableStatus = z.infer<typeof printableStatus>;
