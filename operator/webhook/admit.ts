/**
 * The admission decision: an AdmissionReview in, the response out. VirtualMachines get the
 * same validation as `kubevmm validate` with the cluster's classes (complete: a class that is
 * not in the cache does not exist) plus the checks only the cluster can make (one writer per
 * PVC); VirtualMachineClasses get their schema and rules. Everything is read from the
 * operator's informer caches: no API call per request. Pure apart from reading the caches.
 */
import { isDeepStrictEqual } from 'node:util';
import type { VirtualMachineClass } from '../../api/schema/class.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { validateClass, validateVm } from '../../api/validate.js';
import { pvcConflicts } from './pvc.js';
import {
  allow,
  denyBadRequest,
  denyInvalid,
  MalformedReviewError,
  parseReview,
  type AdmissionRequest,
  type AdmissionReviewResponse,
  type DeniedObject,
} from './review.js';

/** Read access to an informer cache. */
export interface Listing<T> {
  list(): T[];
}

/** What the decision reads: the operator's caches. */
export interface AdmissionCaches {
  vms: Listing<VirtualMachine>;
  classes: Listing<VirtualMachineClass>;
  /** True once every cache holds its first list (before that, "no such class" could be wrong). */
  synced(): boolean;
}

const GROUP = 'kubevmm.io';

/** Answers one AdmissionReview body (already parsed from JSON). Never throws. */
export function admit(body: unknown, caches: AdmissionCaches): AdmissionReviewResponse {
  let request: AdmissionRequest;
  try {
    request = parseReview(body);
  } catch (err) {
    if (err instanceof MalformedReviewError) return denyBadRequest(err.uid, err.message);
    throw err;
  }
  if (request.kind.group !== GROUP || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return allow(request.uid);
  switch (request.kind.kind) {
    case 'VirtualMachine':
      return admitVm(request, caches);
    case 'VirtualMachineClass':
      return admitClass(request);
    default:
      return allow(request.uid);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An update that cannot make things worse: the object is being deleted (finalizer removal must
 * never be blocked), or its spec is unchanged (labels, finalizers: a VM that became invalid
 * because its class changed can still be cleaned up and relabelled).
 */
function harmlessUpdate(request: AdmissionRequest, object: Record<string, unknown>): boolean {
  if (request.operation !== 'UPDATE') return false;
  if (isRecord(object.metadata) && object.metadata.deletionTimestamp) return true;
  return isRecord(request.oldObject) && isDeepStrictEqual(object.spec, request.oldObject.spec);
}

/** The object under review: the request names it (the API server has set the name by now). */
function target(request: AdmissionRequest): DeniedObject {
  const meta = isRecord(request.object) && isRecord(request.object.metadata) ? request.object.metadata : {};
  const name = request.name ?? (typeof meta.name === 'string' ? meta.name : '');
  return { group: request.kind.group, kind: request.kind.kind, name, namespace: request.namespace };
}

function admitVm(request: AdmissionRequest, caches: AdmissionCaches): AdmissionReviewResponse {
  const { uid, object } = request;
  if (!isRecord(object)) return denyBadRequest(uid, `malformed AdmissionReview: request.object is missing for ${request.operation} of a VirtualMachine`);
  if (harmlessUpdate(request, object)) return allow(uid);
  if (!caches.synced()) return denyBadRequest(uid, "the kubevmm operator's caches are still syncing; retry in a few seconds");
  const classes = new Map(caches.classes.list().map((c) => [c.metadata.name, c]));
  const validated = validateVm(withNamespace(object, request.namespace), { classes, complete: true });
  if (!validated.value) return denyInvalid(uid, target(request), validated.issues);
  const conflicts = pvcConflicts(validated.value, caches.vms.list());
  if (conflicts.length) return denyInvalid(uid, target(request), conflicts);
  return allow(uid);
}

/** The API server sets metadata.namespace before validating admission; fall back to the request's. */
function withNamespace(object: Record<string, unknown>, namespace: string | undefined): Record<string, unknown> {
  const meta = isRecord(object.metadata) ? object.metadata : undefined;
  if (!namespace || !meta || meta.namespace !== undefined) return object;
  return { ...object, metadata: { ...meta, namespace } };
}

function admitClass(request: AdmissionRequest): AdmissionReviewResponse {
  const { uid, object } = request;
  if (!isRecord(object)) return denyBadRequest(uid, `malformed AdmissionReview: request.object is missing for ${request.operation} of a VirtualMachineClass`);
  if (harmlessUpdate(request, object)) return allow(uid);
  const validated = validateClass(object);
  if (!validated.value) return denyInvalid(uid, target(request), validated.issues);
  return allow(uid);
}
