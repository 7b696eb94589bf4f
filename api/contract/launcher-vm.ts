/**
 * The resolved VM the operator hands the launcher (the kubevmm.io/vm pod annotation, read
 * through the downward API, ADR 0001) and `kubevmm play` builds from a manifest. resolveVm
 * produces it; the launcher parses it with this schema before any of it reaches QEMU's
 * command line or a file path, so an annotation edited on the pod is held to the same rules
 * as a manifest (names, the CPU model, MAC addresses).
 */
import { z } from 'zod';
import { DISK_SOURCES, diskSpec, interfaceSpec, runStrategy } from '../schema/vm.js';
import { affinity } from '../schema/affinity.js';
import { dnsLabel, toleration } from '../schema/common.js';

/** A Kubernetes object name (DNS-1123 subdomain) of at most 63 characters: it is a label value too. */
const objectName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS-1123 name: lower-case letters, digits, "-" and "."');

/**
 * A QEMU CPU model name (`host-passthrough`, `Skylake-Server-v4`, `max`): letters, digits,
 * '.', '_' and '-'. Feature lists (`,+vmx`) and QEMU's `help` are not models.
 */
export const cpuModelName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a CPU model is letters, digits, ".", "_" and "-" (e.g. host-passthrough, Skylake-Server-v4)')
  .refine((m) => m !== 'help', 'help is not a CPU model');

const topology = z.number().int().min(1).max(512);

export const resolvedDisk = z.object({
  name: diskSpec.shape.name,
  bus: z.enum(['virtio', 'scsi', 'sata']),
  /** 1-based boot position; absent for disks that are not boot candidates. */
  bootOrder: z.number().int().min(1).optional(),
  readOnly: z.boolean(),
  cache: z.enum(['none', 'writethrough', 'writeback']),
  hotpluggable: z.boolean(),
  source: z.enum(DISK_SOURCES),
  spec: diskSpec,
});

const resolvedPort = interfaceSpec.shape.ports.unwrap().element.extend({ protocol: z.enum(['TCP', 'UDP']) });

export const resolvedInterface = z.object({
  name: interfaceSpec.shape.name,
  model: z.enum(['virtio', 'e1000e']),
  binding: z.enum(['masquerade', 'bridge']),
  ports: z.array(resolvedPort),
  macAddress: interfaceSpec.shape.macAddress,
});

/** The VM as renderers and the launcher see it: the class merged in, every default applied. */
export const resolvedVm = z.object({
  name: objectName,
  namespace: dnsLabel,
  uid: z.string().max(64).optional(),
  runStrategy,
  cpu: z.object({ sockets: topology, cores: topology, threads: topology, vcpus: z.number().int().min(1), model: cpuModelName, dedicated: z.boolean() }),
  memory: z.object({ guestBytes: z.number().int().nonnegative(), hugepages: z.enum(['', '2Mi', '1Gi']) }),
  overcommit: z.object({ cpuAllocationRatio: z.number().int().min(1), memoryPercent: z.number().int().min(1) }),
  firmware: z.enum(['bios', 'efi']),
  disks: z.array(resolvedDisk),
  interfaces: z.array(resolvedInterface),
  devices: z.object({ rng: z.boolean(), balloon: z.boolean(), graphics: z.enum(['vnc', 'none']), guestAgent: z.boolean() }),
  paused: z.boolean(),
  terminationGracePeriodSeconds: z.number().int().min(0),
  scheduling: z.object({
    nodeSelector: z.record(z.string(), z.string()),
    affinity: affinity.optional(),
    tolerations: z.array(toleration),
    priorityClassName: z.string().optional(),
  }),
});

/** What the launcher is told: the resolved VM plus the operator settings that shape QEMU. */
export const launcherVm = resolvedVm.extend({
  accelerator: z.enum(['kvm', 'tcg', 'auto']),
  hotplugPorts: z.number().int().min(0).max(32),
});

export type ResolvedDisk = z.infer<typeof resolvedDisk>;
export type ResolvedInterface = z.infer<typeof resolvedInterface>;
export type ResolvedVm = z.infer<typeof resolvedVm>;
export type LauncherVm = z.infer<typeof launcherVm>;
