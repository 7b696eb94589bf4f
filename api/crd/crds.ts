/** The CustomResourceDefinitions of kubevmm.io, built from the zod schemas (never edited by hand). */
import type { z } from 'zod';
import { virtualMachineClass } from '../schema/class.js';
import { virtualMachineImage } from '../schema/image.js';
import { DNS_1035_PATTERN, DNS_SUBDOMAIN_PATTERN, MAX_VM_NAME } from '../schema/kube.js';
import { virtualMachine } from '../schema/vm.js';
import { structuralSchema } from './structural.js';

const GROUP = 'kubevmm.io';
const VERSION = 'v1alpha1';

/** The first fields every Kubernetes object has (as the built-in kinds describe them). */
const STANDARD_FIELDS = {
  apiVersion: { type: 'string', description: 'The versioned schema of this representation of an object: kubevmm.io/v1alpha1.' },
  kind: { type: 'string', description: 'The REST resource this object represents, in CamelCase.' },
};

/**
 * A VM's name becomes pod, Secret and Service names (hotplug-<vm>): the one metadata field a
 * CRD may constrain, so the API server refuses a bad one even without the webhook. The API
 * server refuses anything but name and generateName under metadata, a description too.
 */
const VM_METADATA = { type: 'object', properties: { name: { type: 'string', maxLength: MAX_VM_NAME, pattern: DNS_1035_PATTERN } } };

/**
 * An image's name becomes its claim's (`<image>-image`) and its importer pod's: at most 57
 * characters, so the claim's name stays within a label value's 63.
 */
export const MAX_IMAGE_NAME = 57;
const IMAGE_METADATA = { type: 'object', properties: { name: { type: 'string', maxLength: MAX_IMAGE_NAME, pattern: DNS_SUBDOMAIN_PATTERN } } };

/** A kind's zod schema: spec, optionally status, and a description of the kind. */
type KindSchema = z.ZodObject<{ spec: z.ZodType; status?: z.ZodType }>;

/** The top level of a kind; the API server owns metadata's schema. Descriptions come from the zod schema. */
function rootSchema(kind: KindSchema, metadata: object = { type: 'object' }) {
  const { spec, status } = kind.shape;
  return {
    type: 'object',
    ...(kind.description ? { description: kind.description } : {}),
    required: ['spec'],
    properties: {
      ...STANDARD_FIELDS,
      metadata,
      spec: structuralSchema(spec),
      ...(status ? { status: structuralSchema(status) } : {}),
    },
  };
}

interface CrdNames {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
}

function crd<V extends object>(names: CrdNames, scope: 'Namespaced' | 'Cluster', version: V) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope,
      names: { ...names, listKind: `${names.kind}List`, categories: ['kubevmm', 'all'] },
      versions: [{ name: VERSION, served: true, storage: true, ...version }],
    },
  };
}

/** The VirtualMachine CRD: status subresource and the printer columns of `kubectl get vm`. */
export function virtualMachineCrd() {
  return crd({ kind: 'VirtualMachine', plural: 'virtualmachines', singular: 'virtualmachine', shortNames: ['vm', 'vms'] }, 'Namespaced', {
    subresources: { status: {} },
    additionalPrinterColumns: [
      { name: 'Status', type: 'string', jsonPath: '.status.printableStatus' },
      { name: 'Node', type: 'string', jsonPath: '.status.nodeName' },
      { name: 'CPUs', type: 'integer', jsonPath: '.status.cpus' },
      { name: 'Memory', type: 'string', jsonPath: '.status.memory' },
      { name: 'IP', type: 'string', jsonPath: '.status.interfaces[0].ipAddress' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    schema: { openAPIV3Schema: rootSchema(virtualMachine, VM_METADATA) },
  });
}

/** The VirtualMachineClass CRD (cluster-scoped). */
export function virtualMachineClassCrd() {
  return crd(
    { kind: 'VirtualMachineClass', plural: 'virtualmachineclasses', singular: 'virtualmachineclass', shortNames: ['vmclass'] },
    'Cluster',
    {
      additionalPrinterColumns: [
        { name: 'Cores', type: 'integer', jsonPath: '.spec.cpu.cores' },
        { name: 'Memory', type: 'string', jsonPath: '.spec.memory.guest' },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      ],
      schema: { openAPIV3Schema: rootSchema(virtualMachineClass) },
    },
  );
}

/**
 * The VirtualMachineImage CRD: status subresource (the operator writes it, users cannot) and
 * the columns of `kubectl get vmimage`: PHASE, PROGRESS, SIZE (the virtual size), AGE.
 */
export function virtualMachineImageCrd() {
  return crd({ kind: 'VirtualMachineImage', plural: 'virtualmachineimages', singular: 'virtualmachineimage', shortNames: ['vmimage', 'vmimages'] }, 'Namespaced', {
    subresources: { status: {} },
    additionalPrinterColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Progress', type: 'string', jsonPath: '.status.progress' },
      { name: 'Size', type: 'string', jsonPath: '.status.virtualSize' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    schema: { openAPIV3Schema: rootSchema(virtualMachineImage, IMAGE_METADATA) },
  });
}

/** Every CRD with the file name it is written to under crds/. */
export function allCrds(): { file: string; crd: object }[] {
  return [
    { file: 'kubevmm.io_virtualmachines.yaml', crd: virtualMachineCrd() },
    { file: 'kubevmm.io_virtualmachineclasses.yaml', crd: virtualMachineClassCrd() },
    { file: 'kubevmm.io_virtualmachineimages.yaml', crd: virtualMachineImageCrd() },
  ];
}
