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

/**
 * Every permission the chart's Roles and ClusterRoles of one component grant (their
 * `app.kubernetes.io/component` label: operator, subresources, user-roles), sorted.
 */
export function grantedLines(objects: Manifest[], component = 'operator'): string[] {
  return objects
    .filter((o) => (o.kind === 'Role' || o.kind === 'ClusterRole') && o.metadata.labels?.['app.kubernetes.io/component'] === component)
    .flatMap(linesOf)
    .sort();
}

/** The permissions of one Role or ClusterRole by name, sorted. */
export function roleLines(objects: Manifest[], name: string): string[] {
  const role = objects.find((o) => (o.kind === 'Role' || o.kind === 'ClusterRole') && o.metadata.name === name);
  if (!role) throw new Error(`no Role or ClusterRole ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return linesOf(role).sort();
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
