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
  cores: topologyValue.optional().describe('Cores per socket. Default: the class’s value, else 1.'),
  sockets: topologyValue.optional().describe('Sockets. Default: the class’s value, else 1.'),
  threads: topologyValue.optional().describe('Threads per core. Default: the class’s value, else 1.'),
  model: cpuModel.optional().describe('The CPU model QEMU presents to the guest: host-passthrough, host-model or a QEMU model name. Default: the class’s value, else host-passthrough. Applied by the launcher.'),
  dedicated: z.boolean().optional().describe('true: the launcher requests whole CPUs and its full memory, requests equal to limits on every container of the pod (Guaranteed QoS); the kubelet’s static CPU manager pins them. Default: the class’s value, else false.'),
});

export const memorySpec = z.strictObject({
  guest: quantity.optional().describe('The guest’s RAM, a quantity such as 2Gi (a bare integer counts bytes). Required unless the class sets memory.guest; at least 16Mi; a multiple of the page size when hugepages is set.'),
  hugepages: z.enum(['', '2Mi', '1Gi']).optional().describe('Back guest RAM with hugepages of this size ("" = none). The launcher pod then requests hugepages-<size> equal to guest, and memory for the overhead only. A class cannot set it. Default "".'),
});

const port = z.strictObject({
  port: z.number().int().min(1).max(65535).describe('The guest port, 1-65535. A protocol and port pair may appear once per interface.'),
  protocol: z.enum(['TCP', 'UDP']).optional().describe('TCP or UDP. Default TCP.'),
  name: portName.optional().describe('Name of the launcher’s container port for it: an IANA service name (at most 15 lower-case letters, digits and -).'),
});

/**
 * Disk names become pod volume and init-container names such as `containerdisk-<name>`,
 * which must stay within 63 characters.
 */
const diskName = dnsLabel.max(48);

const pvcSource = z.strictObject({
  claimName: dnsSubdomain.describe('The claim’s name, in the VM’s namespace.'),
  readOnly: z.boolean().optional().describe('Mount the claim read-only; it is also the disk’s default readOnly. Default false.'),
});
const emptyDiskSource = z.strictObject({ capacity: quantity.describe('The disk’s size as the guest sees it: at least 1Mi, such as 10Gi.') });
/**
 * Where the image sits in a containerDisk: an absolute path of plain segments (letters,
 * digits, '.', '_', '-'; none starting with '.'), so it can only ever be a path, never options
 * or shell syntax, and cannot climb out with '..'.
 */
export const CONTAINER_DISK_PATH_PATTERN = '^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+/?$';

const containerDiskSource = z.strictObject({
  image: imageRef.describe('The container image reference, such as registry.example/os/debian:12.'),
  path: z
    .string()
    .max(1024)
    .regex(new RegExp(CONTAINER_DISK_PATH_PATTERN), 'must be an absolute path of letters, digits, ".", "_" and "-" (no segment starting with "."), e.g. /disk')
    .optional()
    .describe('Where the disk image is in the container image: the file itself, or a directory holding exactly one file. An absolute path of plain segments. Default /disk.'),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional().describe('Pull policy of the image (of its image volume, or of the container that copies it): Always, IfNotPresent or Never. Default: Kubernetes’ default for the tag.'),
});
/**
 * A disk created from a VirtualMachineImage: the operator makes a claim of the VM's own
 * (`<vm>-<disk>`, vmImageDiskClaim) from the image's claim, by a CSI clone where the storage
 * class allows it, else by a copy pod. The image must be in the VM's namespace.
 */
const imageDiskSource = z.strictObject({
  name: dnsSubdomain.max(57).describe('The VirtualMachineImage in the VM’s namespace (images are per namespace). The VM waits (Provisioning) until it is Ready.'),
  size: quantity.optional().describe('Size of the VM’s claim, such as 20Gi: at least the image claim’s size. Default: the image claim’s size.'),
  storageClassName: optionalSubdomain.optional().describe('StorageClass of the VM’s claim. Default: the image claim’s class (a CSI clone needs the same class).'),
  retain: z.boolean().optional().describe('Keep the VM’s claim when the VM is deleted (it is then no longer owned by the VM). Default false: deleted with the VM.'),
});
const secretRef = z.strictObject({ name: dnsSubdomain.describe('The Secret’s name, in the VM’s namespace.') });
const cloudInitSource = z.strictObject({
  userData: z.string().optional().describe('Inline user data (#cloud-config or a script). With networkData at most 65536 bytes. It travels in the launcher pod’s kubevmm.io/vm annotation, so anyone who can read pods can read it: put secrets in userDataSecretRef.'),
  userDataSecretRef: secretRef.optional().describe('A Secret in the VM’s namespace, mounted into the launcher pod: user data from key userdata (or userData), network config from networkdata (or networkData). Set this or userData, not both.'),
  networkData: z.string().optional().describe('Network configuration (cloud-init network-config v2), inline.'),
});

/** Disk sources: exactly one must be set (checked by CEL in the CRD and by validateVm). */
export const DISK_SOURCES = ['persistentVolumeClaim', 'emptyDisk', 'containerDisk', 'cloudInit', 'image'] as const;

export const diskSpec = z
  .strictObject({
    name: diskName.describe('The disk’s name, unique within the VM: a DNS label of at most 48 characters (it becomes part of pod volume and container names).'),
    bus: z.enum(['virtio', 'scsi', 'sata']).optional().describe('The bus the guest sees the disk on: virtio, scsi or sata. Default virtio. Applied by the launcher.'),
    bootOrder: z.number().int().min(1).max(MAX_BOOT_ORDER).optional().describe('The disk’s position in the boot order, unique across disks. When no disk sets it, list order is the boot order (cloudInit and hotpluggable disks never boot); when any disk sets it, only those disks boot.'),
    readOnly: z.boolean().optional().describe('The guest cannot write the disk; a PVC or containerDisk volume is then mounted read-only. Default: persistentVolumeClaim.readOnly, else false. A cloudInit disk is always read-only.'),
    cache: z.enum(['none', 'writethrough', 'writeback']).optional().describe('QEMU’s cache mode for the disk: none, writethrough or writeback. Default none.'),
    hotpluggable: z.boolean().optional().describe('Attach and detach the disk while the VM runs: added to a running VM it is attached live, removed it is detached live, and status.disks follows it. Only persistentVolumeClaim disks on bus virtio or scsi without bootOrder. An attachment pod exports the claim; the launcher pod never holds it, and it does not change the spec hash. Default false.'),
    persistentVolumeClaim: pvcSource.optional().describe('Source: an existing PersistentVolumeClaim in the VM’s namespace. A Filesystem claim holds the image as disk.img at its root (a blank claim gets one of its size); a Block claim is the disk itself.'),
    emptyDisk: emptyDiskSource.optional().describe('Source: a blank disk that lives as long as the launcher pod (scratch space).'),
    containerDisk: containerDiskSource.optional().describe('Source: a disk image shipped in a container image. It is mounted read-only into the pod as an image volume, guest writes going to an overlay in the pod (or, when the operator is configured with containerDiskDelivery copy, copied into the pod at start); either way guest writes are lost when the pod goes.'),
    image: imageDiskSource.optional().describe('Source: a claim of the VM’s own, <vm>-<disk>, created from a VirtualMachineImage (a CSI clone, else a copy) before the VM starts; owned by the VM and deleted with it unless retain is true. An existing claim of that name that kubevmm did not create is an error, never adopted.'),
    cloudInit: cloudInitSource.optional().describe('Source: cloud-init NoCloud data, given to the guest as a read-only disk. Set exactly one of userData and userDataSecretRef; at most one cloudInit disk per VM.'),
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
  name: dnsLabel.describe('The interface’s name, unique within the VM (a DNS label).'),
  model: z.enum(['virtio', 'e1000e']).optional().describe('The NIC model the guest sees: virtio or e1000e. Default virtio.'),
  binding: z.enum(['masquerade', 'bridge']).optional().describe('masquerade: the guest reaches the network through the pod’s IP, without privileges (at most one interface; one without binding counts). bridge: accepted by the API, not connected by the launcher yet. Default masquerade.'),
  ports: z.array(port).max(LIMITS.ports).optional().describe('Guest ports served through the interface, at most 64. On a masquerade interface each becomes a container port of the launcher (those of a bridge interface do not); to reach the guest, create a Service that selects kubevmm.io/vm: <vm name>.'),
  macAddress: macAddress.optional().describe('A fixed unicast MAC address such as 52:54:00:12:34:56. Empty: one derived from the VM’s uid and the interface’s name. Either way it stays the same across restarts.'),
});

export const devicesSpec = z.strictObject({
  rng: z.boolean().optional().describe('A virtio RNG device (entropy for the guest). Default true.'),
  balloon: z.boolean().optional().describe('A virtio memory balloon. Default true.'),
  graphics: z.enum(['vnc', 'none']).optional().describe('vnc: a VNC display (16 MiB more pod memory overhead); none: the serial console only. Default vnc.'),
  guestAgent: z.boolean().optional().describe('A channel for qemu-guest-agent; it feeds status.guest. Default true.'),
});

/** Lists keyed by name: server-side apply and `kubectl patch` merge entries by name, not position. */
const listMap = { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] };

const uniqueNames = (what: string) => ({
  rule: 'self.all(x, self.exists_one(y, y.name == x.name))',
  message: `${what} names must be unique`,
});

export const vmSpec = z.strictObject({
  runStrategy: runStrategy.optional().describe('Whether the VM runs: Always (started again after any end), RerunOnFailure (after failures only), Once (runs once), Manual (starts only when restartRequestedAt asks), Halted (stopped). Default Always. Applies live.'),
  className: optionalSubdomain.optional().describe('A cluster-scoped VirtualMachineClass giving defaults for CPU, memory, overcommit and placement. Fields set on the VM win; the class’s limits cap the result. Empty: no class.'),
  cpu: cpuSpec.optional().describe('The vCPU topology, model and pinning. vCPUs = sockets x cores x threads: at most 512, and at most the class’s limits.maxCores.'),
  memory: memorySpec.optional().describe('Guest RAM and hugepages.'),
  firmware: z.enum(['bios', 'efi']).optional().describe('The boot firmware: bios (SeaBIOS) or efi (UEFI). Default bios. Applied by the launcher; a change needs a restart.'),
  disks: z
    .array(diskSpec)
    .max(LIMITS.disks)
    .optional()
    .meta({ ...listMap, 'x-kubernetes-validations': [uniqueNames('disk')] })
    .describe('The VM’s disks, each with its source inline: exactly one of persistentVolumeClaim, emptyDisk, containerDisk, cloudInit and image. At most 64 with unique names; the list merges by name under server-side apply and kubectl patch. List order is the boot order unless a disk sets bootOrder.'),
  interfaces: z
    .array(interfaceSpec)
    .max(LIMITS.interfaces)
    .optional()
    .meta({ ...listMap, 'x-kubernetes-validations': [uniqueNames('interface')] })
    .describe('Network interfaces, at most 16 with unique names, merged by name. Absent: one interface {name: default, model: virtio, binding: masquerade}; [] means no network interface.'),
  devices: devicesSpec.optional().describe('Optional devices; a change needs a restart.'),
  paused: z.boolean().optional().describe('true stops the vCPUs and keeps guest memory; false resumes them. Applies live. Default false.'),
  restartRequestedAt: z.string().optional().describe('An RFC 3339 time. A value that differs from status.lastRestartRequestedAt restarts a running VM once (any runStrategy but Halted) and starts a Manual one; it is then recorded there. Empty: no request.'),
  terminationGracePeriodSeconds: gracePeriod.optional().describe('How long the guest gets to shut down (guest agent or ACPI) before QEMU is stopped, at most a week. The launcher pod gets 15 s more. Default 60.'),
  nodeSelector: z.record(z.string(), labelValue).optional().describe('Node labels the launcher pod’s node must have; merged with the class’s, the VM’s value winning per key.'),
  affinity: affinity.optional().describe('A core/v1 Affinity for the launcher pod, checked with the API server’s rules.'),
  tolerations: z.array(toleration).max(64).optional().describe('Tolerations of the launcher pod, after the class’s.'),
  priorityClassName: optionalSubdomain.optional().describe('The launcher pod’s PriorityClass, when not empty.'),
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
  'ErrImagePull',
  'ImagePullBackOff',
  'ErrorRefused',
  'ErrorPvcInUse',
  'Unknown',
]);

export const diskPhase = z.enum(['Pending', 'Attaching', 'Attached', 'Detaching', 'Failed']);

export const vmStatus = z.looseObject({
  printableStatus: printableStatus.optional().describe('A one-word state, the STATUS column of kubectl get vm.'),
  observedGeneration: z.number().int().optional().describe('The metadata.generation this status describes.'),
  conditions: z.array(condition).optional().describe('Standard conditions: Ready, Paused, RestartRequired, Failure, AgentConnected, SoftwareEmulation.'),
  nodeName: z.string().optional().describe('The node the VM runs on (the NODE column).'),
  launcherPod: z.string().optional().describe('The launcher pod’s name, <vm>-launcher.'),
  startedAt: z.string().optional().describe('When the current run started (RFC 3339); spec.restartRequestedAt is compared with it.'),
  accelerator: z.enum(['kvm', 'tcg']).optional().describe('What the guest runs on: kvm, or tcg (software emulation: slow, and only when the operator configuration allows it).'),
  cpus: z.number().int().optional().describe('The number of vCPUs after the class merge (the CPUS column).'),
  memory: z.string().optional().describe('The guest memory, such as 2Gi (the MEMORY column).'),
  interfaces: z
    .array(
      z.looseObject({
        name: z.string().describe('The interface’s name in spec.interfaces.'),
        ipAddress: z.string().optional().describe('Where others reach the VM through this interface: the pod IP under masquerade.'),
        macAddress: z.string().optional().describe('The interface’s MAC address.'),
      }),
    )
    .optional()
    .describe('Addresses per interface; the first entry’s ipAddress is the IP column.'),
  disks: z
    .array(
      z.looseObject({
        name: z.string().describe('The disk’s name in spec.disks.'),
        phase: diskPhase.describe('Pending (waiting for its claim or attachment pod), Attaching, Attached, Detaching or Failed.'),
        target: z.string().optional().describe('The device name the guest sees, such as vdb.'),
        message: z.string().optional().describe('Why the disk is Pending or Failed.'),
      }),
    )
    .optional()
    .describe('State per hotpluggable disk, following spec.disks.'),
  guest: z
    .looseObject({
      agentConnected: z.boolean().optional().describe('Whether qemu-guest-agent answers in the guest.'),
      hostname: z.string().optional().describe('The guest’s host name.'),
      osName: z.string().optional().describe('The guest operating system’s name, such as Debian GNU/Linux.'),
      kernel: z.string().optional().describe('The guest kernel’s release.'),
      interfaces: z
        .array(
          z.looseObject({
            name: z.string().describe('The interface’s name in the guest, such as eth0.'),
            macAddress: z.string().optional().describe('Its MAC address.'),
            ipAddresses: z.array(z.string()).optional().describe('Its addresses as the guest sees them (behind masquerade: the user-mode network’s, such as 10.0.2.15).'),
          }),
        )
        .optional()
        .describe('The guest’s network interfaces and addresses as the agent reports them (loopback left out); status.interfaces says where others reach the VM.'),
    })
    .optional()
    .describe('What the guest agent reports about the guest (spec.devices.guestAgent).'),
  restartCount: z.number().int().optional().describe('How many times the VM was started again after a failure.'),
  consecutiveFailures: z.number().int().optional().describe('Failures in a row; the crash-loop backoff grows with it and it starts over after a run of 10 minutes.'),
  lastRestartRequestedAt: z.string().optional().describe('The last spec.restartRequestedAt honoured.'),
  lastFailure: z
    .looseObject({
      reason: z.string().optional().describe('A CamelCase reason, such as QemuKilled or LauncherFailed.'),
      message: z.string().optional().describe('What happened, in one line.'),
      at: z.string().optional().describe('When the operator saw the failure (RFC 3339).'),
    })
    .optional()
    .describe('The most recent failure of the launcher.'),
});

export const virtualMachine = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('VirtualMachine'),
  // The VM name becomes pod, Secret and Service names (hotplug-<vm>) and a label value.
  metadata: objectMeta.extend({ name: vmName }),
  spec: vmSpec.describe('What the VM is (CPU, memory, disks, interfaces, devices) and whether it runs; written by users.'),
  status: vmStatus.optional().describe('The running instance as the operator reports it; users never set it.'),
}).describe('A virtual machine: the operator runs it as a launcher pod whose container runs QEMU (kubevmm.io).');

export type VirtualMachine = z.infer<typeof virtualMachine>;
export type VmSpec = z.infer<typeof vmSpec>;
export type DiskSpec = z.infer<typeof diskSpec>;
export type InterfaceSpec = z.infer<typeof interfaceSpec>;
export type VmStatus = z.infer<typeof vmStatus>;
export type RunStrategy = z.infer<typeof runStrategy>;
export type PrintableStatus = z.infer<typeof printableStatus>;
