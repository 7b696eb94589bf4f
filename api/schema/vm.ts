/** The VirtualMachine kind (namespaced): spec as users write it, status as the operator reports it. */
import { z } from 'zod';
import { API_VERSION, condition, dnsLabel, freeForm, objectMeta, quantity, stringMap, toleration } from './common.js';

/** Upper bounds that keep CEL validation cost bounded and objects small. */
export const LIMITS = { disks: 64, interfaces: 16, ports: 64, userDataBytes: 64 * 1024 } as const;

export const runStrategy = z.enum(['Always', 'RerunOnFailure', 'Once', 'Manual', 'Halted']);
const topologyValue = z.number().int().min(1).max(512);

export const cpuSpec = z.strictObject({
  cores: topologyValue.optional(),
  sockets: topologyValue.optional(),
  threads: topologyValue.optional(),
  model: z.string().min(1).optional(),
  dedicated: z.boolean().optional(),
});

export const memorySpec = z.strictObject({
  guest: quantity.optional(),
  hugepages: z.enum(['', '2Mi', '1Gi']).optional(),
});

/** A Kubernetes port name (IANA service name): at most 15 lower-case letters, digits and '-'. */
const portName = z.string().max(15).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);

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

const pvcSource = z.strictObject({ claimName: z.string().min(1), readOnly: z.boolean().optional() });
const emptyDiskSource = z.strictObject({ capacity: quantity });
/**
 * Where the image sits in a containerDisk: an absolute path of plain segments (letters,
 * digits, '.', '_', '-'; none starting with '.'), so it can only ever be a path, never options
 * or shell syntax, and cannot climb out with '..'.
 */
export const CONTAINER_DISK_PATH_PATTERN = '^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+/?$';

const containerDiskSource = z.strictObject({
  image: z.string().min(1),
  path: z
    .string()
    .max(1024)
    .regex(new RegExp(CONTAINER_DISK_PATH_PATTERN), 'must be an absolute path of letters, digits, ".", "_" and "-" (no segment starting with "."), e.g. /disk')
    .optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
});
const secretRef = z.strictObject({ name: z.string().min(1) });
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
    bootOrder: z.number().int().min(1).optional(),
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
  macAddress: z
    .string()
    .regex(/^$|^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/)
    .optional(),
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
  className: z.string().optional(),
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
  terminationGracePeriodSeconds: z.number().int().min(0).optional(),
  nodeSelector: stringMap.optional(),
  affinity: freeForm.optional(),
  tolerations: z.array(toleration).optional(),
  priorityClassName: z.string().optional(),
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
  lastFailure: z
    .looseObject({ reason: z.string().optional(), message: z.string().optional(), at: z.string().optional() })
    .optional(),
});

export const virtualMachine = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('VirtualMachine'),
  // The VM name is the value of the kubevmm.io/vm label on its pods: at most 63 characters.
  metadata: objectMeta.extend({ name: z.string().min(1).max(63) }),
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
