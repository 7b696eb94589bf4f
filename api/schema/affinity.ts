/**
 * core/v1 Affinity as the launcher pod takes it, with the API server's field rules: strict
 * objects (a misspelt field is an error, not a pod the API server refuses later), label keys
 * and values, operators, weights. The rules that tie fields together (values per operator)
 * are in api/rules/affinity.ts. Descriptions say what Kubernetes' own say, for kubectl explain.
 */
import { z } from 'zod';
import { labelValue, qualifiedName } from './kube.js';

const values = z.array(z.string().max(63)).max(64);

/** A label selector requirement (pod affinity) or node selector requirement. */
const requirement = <T extends readonly [string, ...string[]]>(operators: T) =>
  z.strictObject({
    key: qualifiedName.describe('The label key the requirement applies to.'),
    operator: z.enum(operators).describe(`How the key relates to the values: ${operators.join(', ')}.`),
    values: values.optional().describe('The values, for the operators that take them (none for Exists and DoesNotExist; one integer for Gt and Lt).'),
  });

const nodeSelectorTerm = z.strictObject({
  matchExpressions: z.array(requirement(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'])).max(32).optional().describe('Requirements on node labels, all of which must hold.'),
  matchFields: z
    .array(
      z.strictObject({
        key: z.literal('metadata.name').describe('The node field: metadata.name is the only one.'),
        operator: z.enum(['In', 'NotIn']).describe('In or NotIn.'),
        values: values.optional().describe('Node names: exactly one.'),
      }),
    )
    .max(32)
    .optional()
    .describe('Requirements on node fields, all of which must hold.'),
});

const labelSelector = z.strictObject({
  matchLabels: z.record(z.string(), labelValue).optional().describe('Labels that must all be present with these values.'),
  matchExpressions: z.array(requirement(['In', 'NotIn', 'Exists', 'DoesNotExist'])).max(32).optional().describe('Requirements on labels, all of which must hold.'),
});

const podAffinityTerm = z.strictObject({
  labelSelector: labelSelector.optional().describe('The pods this term is about.'),
  namespaceSelector: labelSelector.optional().describe('The namespaces whose pods count; with namespaces, their union. Empty: the launcher pod’s namespace.'),
  namespaces: z.array(z.string().max(63)).max(64).optional().describe('Namespaces whose pods count, besides namespaceSelector’s.'),
  topologyKey: qualifiedName.describe('The node label whose value defines "together", such as kubernetes.io/hostname.'),
  matchLabelKeys: z.array(qualifiedName).max(32).optional().describe('Label keys whose values are taken from the launcher pod and added to labelSelector as In.'),
  mismatchLabelKeys: z.array(qualifiedName).max(32).optional().describe('Label keys whose values are taken from the launcher pod and added to labelSelector as NotIn.'),
});

const weight = z.number().int().min(1).max(100).describe('How much this preference counts, 1 to 100.');

const podAffinity = (what: string) =>
  z.strictObject({
    requiredDuringSchedulingIgnoredDuringExecution: z.array(podAffinityTerm).max(32).optional().describe(`Terms that must hold for the launcher pod to be scheduled ${what}.`),
    preferredDuringSchedulingIgnoredDuringExecution: z
      .array(z.strictObject({ weight, podAffinityTerm: podAffinityTerm.describe('The pod affinity term this preference weighs.') }))
      .max(32)
      .optional()
      .describe(`Terms the scheduler prefers, by weight, for placing the launcher pod ${what}.`),
  });

/** core/v1 Affinity. */
export const affinity = z.strictObject({
  nodeAffinity: z
    .strictObject({
      requiredDuringSchedulingIgnoredDuringExecution: z
        .strictObject({ nodeSelectorTerms: z.array(nodeSelectorTerm).min(1).max(32).describe('Terms of which at least one must hold.') })
        .optional()
        .describe('Node requirements the launcher pod needs to be scheduled.'),
      preferredDuringSchedulingIgnoredDuringExecution: z
        .array(z.strictObject({ weight, preference: nodeSelectorTerm.describe('The node term preferred.') }))
        .max(32)
        .optional()
        .describe('Node terms the scheduler prefers, by weight.'),
    })
    .optional()
    .describe('Which nodes the launcher pod may run on, by their labels and fields.'),
  podAffinity: podAffinity('near the pods it names').optional().describe('Pods the launcher pod should run near (same topology domain).'),
  podAntiAffinity: podAffinity('away from the pods it names').optional().describe('Pods the launcher pod should run away from (another topology domain).'),
});

export type Affinity = z.infer<typeof affinity>;
