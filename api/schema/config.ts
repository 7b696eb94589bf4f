/** Operator configuration (Helm values, flags or environment), shared by operator, CLI and launcher. */
import { z } from 'zod';

export const acceleratorChoice = z.enum(['kvm', 'tcg', 'auto']);

export const operatorConfig = z.strictObject({
  cpuAllocationRatio: z.number().int().min(1).max(100).default(10),
  memoryOvercommitPercent: z.number().int().min(100).max(1000).default(100),
  accelerator: acceleratorChoice.default('kvm'),
  launcherImage: z.string().min(1).default('ghcr.io/kubevmm/launcher:0.1.0'),
  hotplugPorts: z.number().int().min(0).max(32).default(4),
  kvmResourceName: z.string().min(1).default('devices.kubevmm.io/kvm'),
});

export type OperatorConfig = z.infer<typeof operatorConfig>;
export type AcceleratorChoice = z.infer<typeof acceleratorChoice>;

/** The configuration a user gets when they set nothing. */
export const DEFAULT_CONFIG: OperatorConfig = operatorConfig.parse({});
