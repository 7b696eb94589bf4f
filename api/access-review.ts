/**
 * A SubjectAccessReview (authorization.k8s.io/v1) about one user, exactly as the API server
 * authenticated them: the webhook asks one for the creator of an image that copies another
 * namespace's claim, the subresource server one for every request. Pure.
 */

/** Who is asked about: the user's name, uid, groups and extra, passed on unchanged. */
export interface ReviewSubject {
  user: string;
  uid?: string;
  groups: readonly string[];
  extra: Readonly<Record<string, readonly string[]>>;
}

/** What they want to do: resourceAttributes of the review. */
export interface ReviewAttributes {
  group: string;
  version: string;
  resource: string;
  subresource?: string;
  namespace: string;
  name: string;
  verb: string;
}

/** The SubjectAccessReview to create: may `subject` do `attributes`? */
export function subjectAccessReview(subject: ReviewSubject, attributes: ReviewAttributes): Record<string, unknown> {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: subject.user,
      ...(subject.uid ? { uid: subject.uid } : {}),
      groups: subject.groups,
      extra: subject.extra,
      resourceAttributes: attributes,
    },
  };
}
