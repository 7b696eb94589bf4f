/**
 * Building blocks shared by the kubevmm.io/v1alpha1 schemas. Every object schema is strict:
 * a misspelt field is an error, never silently dropped.
 */
import { z } from 'zod';
import { QUANTITY_PATTERN } from '../quantity.js';
import { labelValue, qualifiedName } from './kube.js';

/** The API group and version of every kubevmm kind. */
export const API_VERSION = 'kubevmm.io/v1alpha1';

/** DNS-1123 label: the rule Kubernetes applies to names that become device or volume names. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** A DNS-1123 label (lower-case alphanumerics and '-', at most 63 characters). */
export const dnsLabel = z.string().min(1).max(63).regex(new RegExp(DNS_LABEL_PATTERN));

/**
 * A Kubernetes quantity, written as a string ("2Gi") or a bare integer (bytes).
 * Tagged so the CRD generator emits x-kubernetes-int-or-string.
 */
export const quantity = z
  .union([z.string().regex(new RegExp(QUANTITY_PATTERN)), z.number().int().nonnegative()])
  .meta({ 'x-kubernetes-int-or-string': true });

/** The API server's rules on a toleration, as CEL (cheap: a handful of field tests). */
const TOLERATION_RULES = [
  { rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''", message: 'value must be empty when operator is Exists' },
  { rule: "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')", message: 'operator must be Exists when key is empty (a toleration of every taint)' },
  { rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')", message: 'tolerationSeconds needs effect NoExecute' },
];

/** A map of string labels or selectors. */
export const stringMap = z.record(z.string(), z.string());

/** A core/v1 Toleration, with the API server's cross-field rules (also in api/rules/scheduling.ts). */
export const toleration = z
  .strictObject({
    key: qualifiedName.optional().describe('The taint key the toleration matches; empty with operator Exists matches every taint.'),
    operator: z.enum(['Exists', 'Equal']).optional().describe('Exists (any value) or Equal (the value below). Default Equal.'),
    value: labelValue.optional().describe('The taint value to match with operator Equal.'),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional().describe('The taint effect to match: NoSchedule, PreferNoSchedule or NoExecute; empty matches all.'),
    tolerationSeconds: z.number().int().optional().describe('With effect NoExecute: how long the pod stays on the node once the taint appears.'),
  })
  .meta({ 'x-kubernetes-validations': TOLERATION_RULES });


/** Object metadata as far as kubevmm reads it; the API server owns the rest. */
export const objectMeta = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  deletionTimestamp: z.string().optional(),
  finalizers: z.array(z.string()).optional(),
});

/** A metav1.Condition. */
export const condition = z.strictObject({
  type: z.string().describe('The condition’s type, such as Ready.'),
  status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
  reason: z.string().describe('A CamelCase reason for the last transition.'),
  message: z.string().describe('Details of the last transition, for people.'),
  lastTransitionTime: z.string().describe('When status last changed (RFC 3339).'),
  observedGeneration: z.number().int().optional().describe('The metadata.generation the condition was set for.'),
});
