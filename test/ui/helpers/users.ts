// Users of the console tests: ServiceAccounts bound in one namespace to the chart's user
// roles (kubevmm-vm-user, kubevmm-vm-viewer, rendered by `helm template` and applied as they
// ship), signing in with their tokens as a person would paste one.
import { pick, template } from '../../helm/helpers/helm.js';
import { kubectl } from '../../operator/helpers/operator-process.js';

function kubectlOk(args: string[], input?: string): string {
  const r = kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The chart's user roles as these tests apply them: under a name of their own, without the aggregation labels. */
export const USER_ROLES = { viewer: 'ui-test-kubevmm-vm-viewer', user: 'ui-test-kubevmm-vm-user' } as const;

/**
 * Applies the rules of the chart's kubevmm-vm-viewer and kubevmm-vm-user ClusterRoles under the
 * names in USER_ROLES. Not under the chart's names: the control plane is shared, and a later
 * `helm install` there refuses a ClusterRole of that name it does not own; not with their
 * aggregation labels, which would add these rules to every view and edit binding in it.
 */
export async function applyUserRoles(): Promise<void> {
  const objects = await template();
  for (const [name, as] of [['kubevmm-vm-viewer', USER_ROLES.viewer], ['kubevmm-vm-user', USER_ROLES.user]] as const) {
    const role = pick(objects, 'ClusterRole', name) as { metadata: Record<string, unknown> };
    kubectlOk(['apply', '-f', '-'], JSON.stringify({ ...role, metadata: { name: as } }));
  }
}

/** Removes what applyUserRoles applied. */
export function deleteUserRoles(): void {
  kubectl(['delete', 'clusterrole', USER_ROLES.viewer, USER_ROLES.user, '--ignore-not-found']);
}

/** A ServiceAccount bound to `role` in `namespace`; returns a token for it. */
export function serviceAccountUser(opts: { namespace: string; name: string; role: string }): string {
  kubectlOk(['-n', opts.namespace, 'create', 'serviceaccount', opts.name]);
  kubectlOk(['-n', opts.namespace, 'create', 'rolebinding', opts.name, `--clusterrole=${opts.role}`, `--serviceaccount=${opts.namespace}:${opts.name}`]);
  return kubectlOk(['-n', opts.namespace, 'create', 'token', opts.name, '--duration=2h']).trim();
}

/** Writes a VM's status as the operator would (the status subresource), so the page has something to show. */
export function writeVmStatus(namespace: string, name: string, status: Record<string, unknown>): void {
  kubectlOk(['-n', namespace, 'patch', 'virtualmachine', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

/** Creates a VM from a JSON object. */
export function applyVm(vm: Record<string, unknown>): void {
  kubectlOk(['apply', '-f', '-'], JSON.stringify(vm));
}
