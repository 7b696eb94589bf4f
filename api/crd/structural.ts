/**
 * Turns zod's OpenAPI 3.0 output into a Kubernetes structural schema: a type on every node,
 * no additionalProperties beside properties, int-or-string in the form the API server wants.
 */
import { z } from 'zod';

type Schema = Record<string, unknown>;
const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Quantities: anyOf [integer, string] with the string's pattern lifted to the top, as controller-gen emits. */
function intOrString(node: Schema): Schema {
  const options = (node.anyOf as Schema[] | undefined) ?? [];
  const pattern = options.find((o) => o.type === 'string')?.pattern;
  const { anyOf: _anyOf, ...rest } = node;
  return { ...rest, anyOf: [{ type: 'integer' }, { type: 'string' }], ...(pattern ? { pattern } : {}) };
}

/** Bounds that only restate JavaScript's safe-integer range say nothing to a user. */
function dropSafeIntegerBounds(node: Schema): void {
  if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
  if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
}

function visit(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(visit);
  if (!isSchema(value)) return value;
  let node: Schema = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'enum' ? v : visit(v)]));
  if (node['x-kubernetes-int-or-string']) node = intOrString(node);
  if (node.type === 'object' && (node.properties || node['x-kubernetes-preserve-unknown-fields'])) {
    delete node.additionalProperties;
  }
  dropSafeIntegerBounds(node);
  return node;
}

/** The structural OpenAPI v3 schema of a zod schema, for a CRD's openAPIV3Schema. */
export function structuralSchema(schema: z.ZodType): Schema {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' }) as Schema;
  delete json.$schema;
  return visit(json) as Schema;
}
