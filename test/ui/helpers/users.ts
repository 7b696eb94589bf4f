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

/** Applies the chart's kubevmm-vm-viewer and kubevmm-vm-user ClusterRoles. */
export async function applyUserRoles(): Promise<void> {
  const objects = await template();
  for (const name of ['kubevmm-vm-viewer', 'kubevmm-vm-user']) kubectlOk(['apply', '-f', '-'], JSON.stringify(pick(objects, 'ClusterRole', name)));
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
