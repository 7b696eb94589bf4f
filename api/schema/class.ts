/** The VirtualMachineClass kind (cluster-scoped): sizes and policy set by the platform team. */
import { z } from 'zod';
import { API_VERSION, objectMeta, quantity, toleration } from './common.js';
import { cpuModel, dnsSubdomain, labelValue } from './kube.js';

export const classSpec = z.strictObject({
  cpu: z
    .strictObject({
      cores: z.number().int().min(1).max(512).optional(),
      sockets: z.number().int().min(1).max(512).optional(),
      threads: z.number().int().min(1).max(512).optional(),
      model: cpuModel.optional(),
      dedicated: z.boolean().optional(),
    })
    .optional(),
  memory: z.strictObject({ guest: quantity.optional() }).optional(),
  overcommit: z
    .strictObject({
      cpuAllocationRatio: z.number().int().min(1).max(100).optional(),
      memoryPercent: z.number().int().min(100).max(1000).optional(),
    })
    .optional(),
  limits: z
    .strictObject({
      maxCores: z.number().int().min(1).optional(),
      maxMemory: quantity.optional(),
      maxDisks: z.number().int().min(1).optional(),
    })
    .optional(),
  nodeSelector: z.record(z.string(), labelValue).optional(),
  tolerations: z.array(toleration).max(64).optional(),
});

export const virtualMachineClass = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('VirtualMachineClass'),
  metadata: objectMeta.extend({ name: dnsSubdomain }),
  spec: classSpec,
});

export type VirtualMachineClass = z.infer<typeof virtualMachineClass>;
export type ClassSpec = z.infer<typeof classSpec>;
