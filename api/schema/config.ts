/** Operator configuration (Helm values, flags or environment), shared by operator, CLI and launcher. */
import { z } from 'zod';

export const acceleratorChoice = z.enum(['kvm', 'tcg', 'auto']);

/** How a containerDisk reaches the launcher (ADR 0014). */
export const containerDiskDelivery = z.enum(['imageVolume', 'copy']);

export const operatorConfig = z.strictObject({
  cpuAllocationRatio: z.number().int().min(1).max(100).default(10).describe('vCPUs per requested CPU: a 4-vCPU VM requests 400m at 10. A class’s overcommit.cpuAllocationRatio overrides it; dedicated VMs ignore it.'),
  memoryOvercommitPercent: z.number().int().min(100).max(1000).default(100).describe('Memory request = guest x 100 / percent, plus overhead (the limit stays guest plus overhead). A class’s overcommit.memoryPercent overrides it.'),
  accelerator: acceleratorChoice.default('kvm').describe('kvm: hardware virtualisation; each launcher pod requests one kvmResourceName. tcg: software emulation (slow): no KVM device is requested, 32 MiB more overhead is counted, and status.accelerator says tcg; a VM cannot choose TCG, only this setting allows it. auto: the launcher uses kvm when /dev/kvm opens, else tcg; pods still request the KVM device and no TCG overhead is counted.'),
  launcherImage: z.string().min(1).default('ghcr.io/kubevmm/launcher:0.1.0').describe('The image of the launcher container, of the tools init container and of hotplug attachment pods.'),
  hotplugPorts: z.number().int().min(0).max(32).default(4).describe('Spare PCIe root ports per VM, for hotplugged disks (passed to the launcher).'),
  kvmResourceName: z.string().min(1).default('devices.kubevmm.io/kvm').describe('The extended resource that hands /dev/kvm to launcher pods (the device plugin advertises it).'),
  containerDiskDelivery: containerDiskDelivery.default('imageVolume').describe('How a containerDisk reaches the launcher. imageVolume: the image is mounted read-only as a pod image volume (Kubernetes 1.35+, or the ImageVolume feature gate, and containerd 2.1+ or CRI-O 1.31+) and a writable disk gets a qcow2 overlay in the pod: no copy, no init containers, the image shared in the node’s page cache. copy: init containers copy the disk into the pod at start (any cluster; slower to start, a full copy per VM).'),
});

export type OperatorConfig = z.infer<typeof operatorConfig>;
export type AcceleratorChoice = z.infer<typeof acceleratorChoice>;
export type ContainerDiskDelivery = z.infer<typeof containerDiskDelivery>;

/** The configuration a user gets when they set nothing. */
export const DEFAULT_CONFIG: OperatorConfig = operatorConfig.parse({});
