/**
 * What every kind's admission reads of a request alike: whether an update can be waved
 * through, the object a denial names, and the namespace the API server is about to set. Pure.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AdmissionRequest, DeniedObject } from './review.js';

/** A JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An update that cannot make things worse: the object is being deleted (finalizer removal must
 * never be blocked), or its spec is unchanged (labels, finalizers: an object that became invalid
 * because the world around it changed can still be cleaned up and relabelled).
 */
export function harmlessUpdate(request: AdmissionRequest, object: Record<string, unknown>): boolean {
  if (request.operation !== 'UPDATE') return false;
  if (isRecord(object.metadata) && object.metadata.deletionTimestamp) return true;
  return isRecord(request.oldObject) && isDeepStrictEqual(object.spec, request.oldObject.spec);
}

/** The object under review: the request names it (the API server has set the name by now). */
export function target(request: AdmissionRequest): DeniedObject {
  const meta = isRecord(request.object) && isRecord(request.object.metadata) ? request.object.metadata : {};
  const name = request.name ?? (typeof meta.name === 'string' ? meta.name : '');
  return { group: request.kind.group, kind: request.kind.kind, name, namespace: request.namespace };
}

/** The API server sets metadata.namespace before validating admission; fall back to the request's. */
export function withNamespace(object: Record<string, unknown>, namespace: string | undefined): Record<string, unknown> {
  const meta = isRecord(object.metadata) ? object.metadata : undefined;
  if (!namespace || !meta || meta.namespace !== undefined) return object;
  return { ...object, metadata: { ...meta, namespace } };
}
