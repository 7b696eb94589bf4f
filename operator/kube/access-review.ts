/**
 * The webhook's one API call per request: a SubjectAccessReview, asked when an image copies a
 * claim of another namespace (operator/webhook/image.ts). A short deadline: the API server waits
 * at most the webhook's timeoutSeconds (5 s in the chart) for the whole answer.
 */
import { AuthorizationV1Api, type KubeConfig, type V1SubjectAccessReview } from '@kubernetes/client-node';
import type { RequestObserver } from './client.js';
import { makeTimedClient } from './timeout.js';

/** Deadline of one review. */
export const ACCESS_REVIEW_TIMEOUT_MS = 3_000;

/** A function creating SubjectAccessReviews with `kc`'s credentials, counted by `observe`. */
export function accessReviewer(kc: KubeConfig, observe?: RequestObserver): (body: Record<string, unknown>) => Promise<unknown> {
  const api = makeTimedClient(kc, AuthorizationV1Api, ACCESS_REVIEW_TIMEOUT_MS);
  return async (body) => {
    const started = performance.now();
    let code = 0;
    try {
      const answer = await api.createSubjectAccessReview({ body: body as unknown as V1SubjectAccessReview });
      code = 201;
      return answer;
    } catch (err) {
      code = Number((err as { code?: unknown }).code) || 0;
      throw err;
    } finally {
      observe?.('create', 'subjectaccessreviews', code, (performance.now() - started) / 1000);
    }
  };
}
