/** The VirtualMachineClass kind (cluster-scoped): sizes and policy set by the platform team. */
import { z } from 'zod';
import { API_VERSION, objectMeta, quantity, stringMap, toleration } from './common.js';

export const classSpec = z.strictObject({
  cpu: z
    .strictObject({
      cores: z.number().int().min(1).max(512).optional(),
      sockets: z.number().int().min(1).max(512).optional(),
      threads: z.number().int().min(1).max(512).optional(),
      model: z.string().min(1).optional(),
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
  nodeSelector: stringMap.optional(),
  tolerations: z.array(toleration).optional(),
});

export const virtualMachineClass = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('VirtualMachineClass'),
  metadata: objectMeta,
  spec: classSpec,
});

export type VirtualMachineClass = z.infer<typeof virtualMachineClass>;
export type ClassSpec = z.infer<typeof classSpec>;
