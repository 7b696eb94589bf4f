/**
 * Which actions the signed-in user may take on a VM, asked of the API server with
 * SelfSubjectAccessReviews (the answer is the user's real rights: the app has none of its
 * own), and the reason shown on a disabled button.
 */
import { SUBRESOURCE_GROUP } from '../../../api/contract/subresource.js';

/** One right the app checks. */
export interface Right {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
}

const VMS = { group: 'kubevmm.io', resource: 'virtualmachines' };
const SUB = { group: SUBRESOURCE_GROUP, resource: 'virtualmachines' };

/** The rights behind the app's actions. */
export const RIGHTS = {
  patch: { verb: 'patch', ...VMS },
  delete: { verb: 'delete', ...VMS },
  create: { verb: 'create', ...VMS },
  console: { verb: 'get', ...SUB, subresource: 'console' },
  vnc: { verb: 'get', ...SUB, subresource: 'vnc' },
  metrics: { verb: 'get', ...SUB, subresource: 'metrics' },
} as const satisfies Record<string, Right>;
export type RightName = keyof typeof RIGHTS;

/** The SelfSubjectAccessReview asking for `right` on `name` in `namespace`. */
export function accessReview(right: Right, namespace: string, name?: string): unknown {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes: { namespace, verb: right.verb, group: right.group, resource: right.resource, ...(right.subresource ? { subresource: right.subresource } : {}), ...(name ? { name } : {}) } },
  };
}

/** A right as the user reads it: `patch virtualmachines`, `get virtualmachines/console (subresources.kubevmm.io)`. */
export function describeRight(right: Right): string {
  return `${right.verb} ${right.resource}${right.subresource ? `/${right.subresource}` : ''}${right.group === VMS.group ? '' : ` (${right.group})`}`;
}

/** The answer of one review: allowed, or the reason the action is disabled. */
export type Access = { allowed: true } | { allowed: false; reason: string };

/** The Access of a review's status. */
export function accessOf(right: Right, namespace: string, status: { allowed?: boolean; reason?: string } | undefined): Access {
  if (status?.allowed) return { allowed: true };
  const why = status?.reason ? ` (${status.reason})` : '';
  return { allowed: false, reason: `you may not ${describeRight(right)} in namespace ${namespace}${why}` };
}
