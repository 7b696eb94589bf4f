/**
 * May this user do this (ADR 0011, step 3)? Every request is put to the API server as a
 * SubjectAccessReview for the user the front proxy named, on the VM's subresource, with the
 * verb the API server itself derives from the request: never answered with the server's own
 * rights. Pure: the review to send, and what its answer means, including the refusal a user
 * reads (which verb on which resource and subresource, and what grants it).
 */
import { z } from 'zod';
import { subjectAccessReview } from '../../api/access-review.js';
import { failureStatus, SUBRESOURCE_GROUP, SUBRESOURCE_VERSION, type KubeStatus, type SubresourceRequest, type VmSubresource } from '../../api/contract/subresource.js';
import type { UserIdentity } from './request-header.js';

/** The verb Kubernetes derives from an HTTP method on a named object (a WebSocket opens with GET). */
const VERB_OF_METHOD: Readonly<Record<string, string>> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** The authorization verb of `method`; undefined for a method Kubernetes has none for. */
export function verbOf(method: string): string | undefined {
  return VERB_OF_METHOD[method.toUpperCase()];
}

/** One question: may `identity` do `verb` on the request's subresource? */
export interface AccessQuestion {
  identity: UserIdentity;
  request: SubresourceRequest;
  verb: string;
}

/** The SubjectAccessReview to create (authorization.k8s.io/v1). */
export function accessReview(question: AccessQuestion): Record<string, unknown> {
  const { identity, request, verb } = question;
  const attributes = { group: SUBRESOURCE_GROUP, version: SUBRESOURCE_VERSION, resource: 'virtualmachines', subresource: request.subresource, namespace: request.namespace, name: request.name, verb };
  return subjectAccessReview(identity, attributes);
}

/** The part of the API server's answer that decides. */
export const accessReviewAnswer = z.object({
  status: z.object({
    allowed: z.boolean(),
    denied: z.boolean().optional(),
    reason: z.string().optional(),
    evaluationError: z.string().optional(),
  }),
});

/** The chart's roles that grant each subresource (docs/rbac.md). */
const GRANTED_BY: Record<VmSubresource, string> = {
  console: 'the VM-user role (aggregated into edit and admin)',
  vnc: 'the VM-user role (aggregated into edit and admin)',
  portforward: 'the VM-user role (aggregated into edit and admin)',
  metrics: 'the VM-viewer role (aggregated into view)',
};

/** The sentence a refused user reads: who, which verb, which resource and subresource, where, and the fix. */
export function denialMessage(question: AccessQuestion, authorizerReason?: string): string {
  const { identity, request, verb } = question;
  const why = authorizerReason ? ` (${authorizerReason})` : '';
  return (
    `virtualmachines.${SUBRESOURCE_GROUP} "${request.name}" is forbidden: user "${identity.user}" cannot ${verb} resource ` +
    `"virtualmachines/${request.subresource}" in API group "${SUBRESOURCE_GROUP}" in the namespace "${request.namespace}"${why}; ` +
    `a binding to a role that grants ${verb} on virtualmachines/${request.subresource} is needed, such as ${GRANTED_BY[request.subresource]}`
  );
}

/** What an answer means: allowed, or the Status to refuse with (and a line for the log). */
export type AccessDecision = { allowed: true } | { allowed: false; status: KubeStatus; log: string };

/**
 * Reads the API server's answer. Anything but an explicit `allowed: true` refuses: a denial is
 * 403 naming the permission, an answer that cannot be read is 503 (fail closed).
 */
export function interpretAccessReview(answer: unknown, question: AccessQuestion): AccessDecision {
  const parsed = accessReviewAnswer.safeParse(answer);
  const vm = { name: question.request.name };
  if (!parsed.success) {
    return { allowed: false, status: failureStatus('ServiceUnavailable', 'the permission check (SubjectAccessReview) gave no readable answer; try again', vm), log: `unreadable SubjectAccessReview answer: ${parsed.error.message}` };
  }
  const { allowed, reason, evaluationError } = parsed.data.status;
  if (allowed) return { allowed: true };
  const log = `denied ${question.identity.user} ${question.verb} virtualmachines/${question.request.subresource} ${question.request.namespace}/${question.request.name}${evaluationError ? `: ${evaluationError}` : ''}`;
  return { allowed: false, status: failureStatus('Forbidden', denialMessage(question, reason), vm), log };
}
