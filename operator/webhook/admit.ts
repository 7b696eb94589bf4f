/**
 * The admission decision: an AdmissionReview in, the response out. VirtualMachines get the
 * same validation as `kubevmm validate` with the cluster's classes (complete: a class that is
 * not in the cache does not exist) plus the checks only the cluster can make (one writer per
 * PVC); VirtualMachineClasses get their schema and rules. Everything is read from the
 * operator's informer caches: no API call per request. Pure apart from reading the caches.
 * VirtualMachineImages go to image.ts, which may ask the API server about the user.
 */
import type { VirtualMachineClass } from '../../api/schema/class.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { validateClass, validateVm } from '../../api/validate.js';
import { admitImage, type AccessReviewer } from './image.js';
import { pvcConflicts } from './pvc.js';
import { harmlessUpdate, isRecord, target, withNamespace } from './request.js';
import {
  allow,
  denyBadRequest,
  denyInvalid,
  MalformedReviewError,
  parseReview,
  type AdmissionRequest,
  type AdmissionReviewResponse,
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

/**
 * Answers one AdmissionReview body (already parsed from JSON), VirtualMachineImages included,
 * whose check of a claim in another namespace asks the API server (`review`). Never rejects.
 */
export async function admitAny(body: unknown, caches: AdmissionCaches, review: AccessReviewer): Promise<AdmissionReviewResponse> {
  let request: AdmissionRequest;
  try {
    request = parseReview(body);
  } catch {
    return admit(body, caches);
  }
  if (request.kind.group === GROUP && request.kind.kind === 'VirtualMachineImage' && (request.operation === 'CREATE' || request.operation === 'UPDATE')) return admitImage(request, review);
  return admit(body, caches);
}

/** Answers one AdmissionReview body of a VirtualMachine or class (already parsed from JSON). Never throws. */
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

function admitClass(request: AdmissionRequest): AdmissionReviewResponse {
  const { uid, object } = request;
  if (!isRecord(object)) return denyBadRequest(uid, `malformed AdmissionReview: request.object is missing for ${request.operation} of a VirtualMachineClass`);
  if (harmlessUpdate(request, object)) return allow(uid);
  const validated = validateClass(object);
  if (!validated.value) return denyInvalid(uid, target(request), validated.issues);
  return allow(uid);
}
