/** The API server's cross-field rules on a pod's affinity (api/schema/affinity.ts has the shape). */
import type { Affinity } from '../schema/affinity.js';
import { DNS_LABEL_PATTERN } from '../schema/common.js';
import { labelValue } from '../schema/kube.js';
import type { Finding, Rule } from './context.js';

type Requirement = { key: string; operator: string; values?: string[] | undefined };
const NAMESPACE = new RegExp(DNS_LABEL_PATTERN);

/** What `values` must be for each operator, or undefined when they are right. */
const VALUES_RULE: Record<string, (values: readonly string[]) => string | undefined> = {
  In: (v) => (v.length ? undefined : 'must be non-empty when operator is In'),
  NotIn: (v) => (v.length ? undefined : 'must be non-empty when operator is NotIn'),
  Exists: (v) => (v.length ? 'must be empty when operator is Exists' : undefined),
  DoesNotExist: (v) => (v.length ? 'must be empty when operator is DoesNotExist' : undefined),
  Gt: (v) => (v.length === 1 && /^-?\d+$/.test(v[0] ?? '') ? undefined : 'must be a single integer when operator is Gt'),
  Lt: (v) => (v.length === 1 && /^-?\d+$/.test(v[0] ?? '') ? undefined : 'must be a single integer when operator is Lt'),
};

/** Values per operator, as for node selector and label selector requirements. */
function requirement(r: Requirement, path: string, labels: boolean): Finding[] {
  const at = `${path}.values`;
  const wrong = VALUES_RULE[r.operator]?.(r.values ?? []);
  if (wrong) return [{ path: at, message: wrong }];
  if (!labels) return [];
  return (r.values ?? []).flatMap((v, i) => (labelValue.safeParse(v).success ? [] : [{ path: `${at}[${i}]`, message: 'must be a label value: at most 63 letters, digits, "-", "_" and "."' }]));
}

type NodeTerm = NonNullable<NonNullable<NonNullable<Affinity['nodeAffinity']>['requiredDuringSchedulingIgnoredDuringExecution']>['nodeSelectorTerms']>[number];
type PodTerm = NonNullable<NonNullable<Affinity['podAffinity']>['requiredDuringSchedulingIgnoredDuringExecution']>[number];

function nodeTerm(term: NodeTerm, path: string): Finding[] {
  const fields = (term.matchFields ?? []).flatMap((f, i) =>
    f.values?.length === 1 ? [] : [{ path: `${path}.matchFields[${i}].values`, message: 'must hold exactly one node name for key metadata.name' }],
  );
  return [...(term.matchExpressions ?? []).flatMap((r, i) => requirement(r, `${path}.matchExpressions[${i}]`, false)), ...fields];
}

function podTerm(term: PodTerm, path: string): Finding[] {
  const selectors = (['labelSelector', 'namespaceSelector'] as const).flatMap((s) => (term[s]?.matchExpressions ?? []).flatMap((r, i) => requirement(r, `${path}.${s}.matchExpressions[${i}]`, true)));
  const namespaces = (term.namespaces ?? []).flatMap((ns, i) => (NAMESPACE.test(ns) ? [] : [{ path: `${path}.namespaces[${i}]`, message: 'must be a namespace name (a DNS-1123 label)' }]));
  return [...selectors, ...namespaces];
}

function podRules(pa: Affinity['podAffinity'], path: string): Finding[] {
  if (!pa) return [];
  const required = (pa.requiredDuringSchedulingIgnoredDuringExecution ?? []).flatMap((t, i) => podTerm(t, `${path}.requiredDuringSchedulingIgnoredDuringExecution[${i}]`));
  const preferred = (pa.preferredDuringSchedulingIgnoredDuringExecution ?? []).flatMap((p, i) => podTerm(p.podAffinityTerm, `${path}.preferredDuringSchedulingIgnoredDuringExecution[${i}].podAffinityTerm`));
  return [...required, ...preferred];
}

/** Findings for an affinity at `path`. */
export function affinityFindings(a: Affinity | undefined, path: string): Finding[] {
  if (!a) return [];
  const node = a.nodeAffinity;
  const required = (node?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []).flatMap((t, i) => nodeTerm(t, `${path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[${i}]`));
  const preferred = (node?.preferredDuringSchedulingIgnoredDuringExecution ?? []).flatMap((p, i) => nodeTerm(p.preference, `${path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[${i}].preference`));
  return [...required, ...preferred, ...podRules(a.podAffinity, `${path}.podAffinity`), ...podRules(a.podAntiAffinity, `${path}.podAntiAffinity`)];
}

export const vmAffinity: Rule = ({ spec }) => affinityFindings(spec.affinity, 'spec.affinity');
