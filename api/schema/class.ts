/** The VirtualMachineClass kind (cluster-scoped): sizes and policy set by the platform team. */
import { z } from 'zod';
import { API_VERSION, objectMeta, quantity, toleration } from './common.js';
import { cpuModel, dnsSubdomain, labelValue } from './kube.js';

export const classSpec = z.strictObject({
  cpu: z
    .strictObject({
      cores: z.number().int().min(1).max(512).optional().describe('Cores per socket for VMs of the class that do not set it (1 on the VM otherwise).'),
      sockets: z.number().int().min(1).max(512).optional().describe('Sockets for VMs of the class that do not set it (1 on the VM otherwise).'),
      threads: z.number().int().min(1).max(512).optional().describe('Threads per core for VMs of the class that do not set it (1 on the VM otherwise).'),
      model: cpuModel.optional().describe('The CPU model for VMs of the class that do not set one (host-passthrough on the VM otherwise).'),
      dedicated: z.boolean().optional().describe('The default of spec.cpu.dedicated for VMs of the class (false on the VM otherwise).'),
    })
    .optional()
    .describe('CPU defaults of the class’s VMs; each field counts separately, and a field the VM sets wins.'),
  memory: z.strictObject({ guest: quantity.optional().describe('Guest memory for VMs of the class that do not set spec.memory.guest; without it every VM of the class must set it.') }).optional().describe('Default memory of the class’s VMs.'),
  overcommit: z
    .strictObject({
      cpuAllocationRatio: z.number().int().min(1).max(100).optional().describe('vCPUs per requested CPU: CPU request = vCPUs / ratio. Default: the operator’s cpuAllocationRatio (10). Ignored for dedicated VMs.'),
      memoryPercent: z.number().int().min(100).max(1000).optional().describe('Memory request = guest x 100 / percent, plus overhead; the limit stays guest plus overhead. Default: the operator’s memoryOvercommitPercent (100). Ignored for dedicated VMs and with hugepages.'),
    })
    .optional()
    .describe('How much less than their size the class’s VMs request; VMs cannot set this.'),
  limits: z
    .strictObject({
      maxCores: z.number().int().min(1).optional().describe('The most vCPUs (sockets x cores x threads, not cores alone) a VM of the class may have. Default: no limit.'),
      maxMemory: quantity.optional().describe('The most guest memory a VM of the class may have. Default: no limit.'),
      maxDisks: z.number().int().min(1).optional().describe('The most entries a VM of the class may have in spec.disks, cloudInit and hotpluggable disks included. Default: no limit.'),
    })
    .optional()
    .describe('Bounds every VM of the class stays inside, after the class merge.'),
  nodeSelector: z.record(z.string(), labelValue).optional().describe('Node labels for the class’s VMs, merged with the VM’s own (the VM’s value wins per key).'),
  tolerations: z.array(toleration).max(64).optional().describe('Tolerations put before each VM’s own.'),
});

export const virtualMachineClass = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('VirtualMachineClass'),
  metadata: objectMeta.extend({ name: dnsSubdomain }),
  spec: classSpec.describe('Defaults (CPU, memory, placement), overcommit and limits for the VMs that name the class.'),
}).describe('A size and policy offered by the platform team; a VirtualMachine uses it through spec.className (kubevmm.io).');

export type VirtualMachineClass = z.infer<typeof virtualMachineClass>;
export type ClassSpec = z.infer<typeof classSpec>;
