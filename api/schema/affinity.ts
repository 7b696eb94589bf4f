/**
 * core/v1 Affinity as the launcher pod takes it, with the API server's field rules: strict
 * objects (a misspelt field is an error, not a pod the API server refuses later), label keys
 * and values, operators, weights. The rules that tie fields together (values per operator)
 * are in api/rules/affinity.ts.
 */
import { z } from 'zod';
import { labelValue, qualifiedName } from './kube.js';

const values = z.array(z.string().max(63)).max(64);

/** A label selector requirement (pod affinity) or node selector requirement. */
const requirement = <T extends readonly [string, ...string[]]>(operators: T) =>
  z.strictObject({ key: qualifiedName, operator: z.enum(operators), values: values.optional() });

const nodeSelectorTerm = z.strictObject({
  matchExpressions: z.array(requirement(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'])).max(32).optional(),
  matchFields: z.array(z.strictObject({ key: z.literal('metadata.name'), operator: z.enum(['In', 'NotIn']), values: values.optional() })).max(32).optional(),
});

const labelSelector = z.strictObject({
  matchLabels: z.record(z.string(), labelValue).optional(),
  matchExpressions: z.array(requirement(['In', 'NotIn', 'Exists', 'DoesNotExist'])).max(32).optional(),
});

const podAffinityTerm = z.strictObject({
  labelSelector: labelSelector.optional(),
  namespaceSelector: labelSelector.optional(),
  namespaces: z.array(z.string().max(63)).max(64).optional(),
  topologyKey: qualifiedName,
  matchLabelKeys: z.array(qualifiedName).max(32).optional(),
  mismatchLabelKeys: z.array(qualifiedName).max(32).optional(),
});

const weight = z.number().int().min(1).max(100);

const podAffinity = z.strictObject({
  requiredDuringSchedulingIgnoredDuringExecution: z.array(podAffinityTerm).max(32).optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z.array(z.strictObject({ weight, podAffinityTerm })).max(32).optional(),
});

/** core/v1 Affinity. */
export const affinity = z.strictObject({
  nodeAffinity: z
    .strictObject({
      requiredDuringSchedulingIgnoredDuringExecution: z.strictObject({ nodeSelectorTerms: z.array(nodeSelectorTerm).min(1).max(32) }).optional(),
      preferredDuringSchedulingIgnoredDuringExecution: z.array(z.strictObject({ weight, preference: nodeSelectorTerm })).max(32).optional(),
    })
    .optional(),
  podAffinity: podAffinity.optional(),
  podAntiAffinity: podAffinity.optional(),
});

export type Affinity = z.infer<typeof affinity>;
