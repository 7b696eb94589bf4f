// RBAC as comparable lines: `verb group/resource scope`, from the chart's rendered roles and
// from the operator's declared calls (OPERATOR_API_CALLS), so a test can diff the two.
import type { ApiCall } from '../../../operator/kube/client.js';
import type { Manifest } from './helm.js';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}

type Scope = NonNullable<ApiCall['scope']> | 'cluster';

function line(verb: string, group: string, resource: string, scope: Scope): string {
  return `${verb} ${group || 'core'}/${resource} ${scope}`;
}

/** Lines granted by one Role or ClusterRole: a Role is `own-namespace`, resourceNames make `named`. */
function linesOf(role: Manifest): string[] {
  const rules = (role.rules as Rule[] | undefined) ?? [];
  return rules.flatMap((rule) => {
    const scope: Scope = role.kind === 'Role' ? 'own-namespace' : rule.resourceNames?.length ? 'named' : 'cluster';
    return (rule.apiGroups ?? []).flatMap((g) => (rule.resources ?? []).flatMap((r) => (rule.verbs ?? []).map((v) => line(v, g, r, scope))));
  });
}

/** Every permission the chart's Roles and ClusterRoles grant, sorted. */
export function grantedLines(objects: Manifest[]): string[] {
  return objects
    .filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')
    .flatMap(linesOf)
    .sort();
}

/** Every permission the operator's code needs with the chart options `features` on, sorted. */
export function neededLines(calls: readonly ApiCall[], features: readonly NonNullable<ApiCall['feature']>[] = []): string[] {
  return calls
    .filter((c) => !c.feature || features.includes(c.feature))
    .map((c) => line(c.verb, c.group, c.resource, c.scope ?? 'cluster'))
    .sort();
}

/** Every string in the roles' rules, to look for wildcards. */
export function ruleStrings(objects: Manifest[]): string[] {
  return objects
    .filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')
    .flatMap((o) => ((o.rules as Rule[] | undefined) ?? []).flatMap((r) => [...(r.apiGroups ?? []), ...(r.resources ?? []), ...(r.verbs ?? [])]));
}
