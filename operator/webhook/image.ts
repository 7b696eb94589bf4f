/**
 * Admission of a VirtualMachineImage: the schema and rules `kubevmm validate` applies, plus the
 * one check only the cluster can make. An image whose `source.pvc` names a claim in another
 * namespace makes the operator copy that claim, with the operator's rights, into the image's
 * namespace: without a check any user could read any namespace's disks that way. So the
 * webhook asks the API server (a SubjectAccessReview) whether the user creating or changing the
 * image, exactly as the AdmissionReview names them (user, uid, groups, extra), may `get
 * persistentvolumeclaims` there, and refuses otherwise. Anything but an explicit yes refuses.
 */
import { z } from 'zod';
import { subjectAccessReview } from '../../api/access-review.js';
import type { VirtualMachineImage } from '../../api/schema/image.js';
import { validateImage } from '../../api/validate.js';
import { harmlessUpdate, isRecord, target, withNamespace } from './request.js';
import { allow, denyBadRequest, denyInvalid, denyUnavailable, type AdmissionRequest, type AdmissionReviewResponse, type UserInfo } from './review.js';

/** Creates a SubjectAccessReview; resolves with the API server's answer (operator/kube/access-review.ts). */
export type AccessReviewer = (body: Record<string, unknown>) => Promise<unknown>;

/** The claim an image copies from another namespace; undefined for every other source. */
export function foreignClaim(image: VirtualMachineImage): { namespace: string; name: string } | undefined {
  const pvc = image.spec.source.pvc;
  if (!pvc?.namespace || pvc.namespace === image.metadata.namespace) return undefined;
  return { namespace: pvc.namespace, name: pvc.name };
}

/** The SubjectAccessReview: may `user` get this claim? */
export function claimAccessReview(user: UserInfo, claim: { namespace: string; name: string }): Record<string, unknown> {
  const subject = { user: user.username, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups, extra: user.extra };
  return subjectAccessReview(subject, { group: '', version: 'v1', resource: 'persistentvolumeclaims', verb: 'get', namespace: claim.namespace, name: claim.name });
}

const reviewAnswer = z.object({ status: z.object({ allowed: z.boolean(), reason: z.string().optional() }) });

const PATH = 'spec.source.pvc.namespace';

/** The refusal a user reads: who, which claim, and what grants it. */
export function claimDenial(user: UserInfo, claim: { namespace: string; name: string }, reason?: string): string {
  return (
    `user "${user.username}" may not get persistentvolumeclaims in namespace "${claim.namespace}" (claim "${claim.name}")${reason ? `: ${reason}` : ''}; ` +
    `an image copies a claim of another namespace only for a user who may read it there: ask for a RoleBinding in "${claim.namespace}" granting get on persistentvolumeclaims, or copy a claim of this namespace`
  );
}

/** Answers the review of one image CREATE or UPDATE. Never rejects. */
export async function admitImage(request: AdmissionRequest, review: AccessReviewer): Promise<AdmissionReviewResponse> {
  const { uid, object } = request;
  if (!isRecord(object)) return denyBadRequest(uid, `malformed AdmissionReview: request.object is missing for ${request.operation} of a VirtualMachineImage`);
  if (harmlessUpdate(request, object)) return allow(uid);
  const validated = validateImage(withNamespace(object, request.namespace));
  if (!validated.value) return denyInvalid(uid, target(request), validated.issues);
  const claim = foreignClaim(validated.value);
  if (!claim) return allow(uid);
  const user = request.userInfo;
  if (!user) return denyBadRequest(uid, 'malformed AdmissionReview: request.userInfo is missing, so nobody can be asked whether the user may read the claim in another namespace');
  let answer: unknown;
  try {
    answer = await review(claimAccessReview(user, claim));
  } catch (err) {
    return denyUnavailable(uid, `the permission check for ${PATH} (a SubjectAccessReview) failed: ${err instanceof Error ? err.message : String(err)}; try again`);
  }
  const parsed = reviewAnswer.safeParse(answer);
  if (!parsed.success) return denyUnavailable(uid, `the permission check for ${PATH} (a SubjectAccessReview) gave no readable answer; try again`);
  if (parsed.data.status.allowed) return allow(uid);
  return denyInvalid(uid, target(request), [{ path: PATH, message: claimDenial(user, claim, parsed.data.status.reason) }]);
}
