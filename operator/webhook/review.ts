/**
 * The admission.k8s.io/v1 AdmissionReview wire format: reading a request defensively and
 * writing the response the API server expects (same apiVersion and kind, the request's uid).
 * Pure.
 */

/** The apiVersion the webhook speaks; the API server insists the response echoes it. */
export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** The operations an admission request can carry. */
export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** The part of an AdmissionRequest the webhook reads. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  operation: Operation;
  namespace?: string;
  name?: string;
  /** The object as it would be stored (CREATE, UPDATE); absent on DELETE. */
  object?: unknown;
  /** The stored object (UPDATE, DELETE). */
  oldObject?: unknown;
  /** Who asks, as the API server authenticated them (absent only in a malformed review). */
  userInfo?: UserInfo;
}

/** authentication.k8s.io/v1 UserInfo: the requesting user, put to SubjectAccessReviews as is. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** One problem with one field, as metav1.StatusCause. */
export interface StatusCause {
  reason: 'FieldValueInvalid';
  field: string;
  message: string;
}

/** The AdmissionResponse the webhook returns. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: {
    code: number;
    reason: string;
    message: string;
    details?: { group: string; kind: string; name: string; causes: StatusCause[] };
  };
}

/** A whole AdmissionReview as sent back. */
export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** The request could not be read; `uid` is whatever could be recovered (possibly ''). */
export class MalformedReviewError extends Error {
  override readonly name = 'MalformedReviewError';
  constructor(
    message: string,
    readonly uid: string,
  ) {
    super(message);
  }
}

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Reads the request of an AdmissionReview; throws MalformedReviewError naming what is wrong. */
export function parseReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new MalformedReviewError('the body must be a JSON AdmissionReview object', '');
  const req = body.request;
  const uid = isRecord(req) ? (str(req.uid) ?? '') : '';
  const fail = (what: string) => new MalformedReviewError(`malformed AdmissionReview: ${what}`, uid);
  if (body.apiVersion !== ADMISSION_API_VERSION || body.kind !== 'AdmissionReview') {
    throw fail(`apiVersion/kind must be ${ADMISSION_API_VERSION} AdmissionReview (set admissionReviewVersions: [v1]); got ${String(body.apiVersion)} ${String(body.kind)}`);
  }
  if (!isRecord(req)) throw fail('request is missing');
  if (!uid) throw fail('request.uid is missing');
  const kind = parseKind(req.kind);
  if (!kind) throw fail('request.kind must have group, version and kind');
  const operation = str(req.operation);
  if (!operation || !OPERATIONS.includes(operation)) throw fail(`request.operation must be one of ${OPERATIONS.join(', ')}`);
  return {
    uid,
    kind,
    operation: operation as Operation,
    namespace: str(req.namespace),
    name: str(req.name),
    object: req.object ?? undefined,
    oldObject: req.oldObject ?? undefined,
    ...withUserInfo(req.userInfo),
  };
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** The request's userInfo; none when it has no username (nothing could be asked about it). */
function withUserInfo(value: unknown): { userInfo?: UserInfo } {
  if (!isRecord(value)) return {};
  const username = str(value.username);
  if (!username) return {};
  const extra = isRecord(value.extra) ? Object.fromEntries(Object.entries(value.extra).map(([k, v]) => [k, strings(v)])) : {};
  const uid = str(value.uid);
  return { userInfo: { username, ...(uid ? { uid } : {}), groups: strings(value.groups), extra } };
}

function parseKind(kind: unknown): AdmissionRequest['kind'] | undefined {
  if (!isRecord(kind)) return undefined;
  const [group, version, name] = [str(kind.group), str(kind.version), str(kind.kind)];
  // The core group is the empty string.
  if (group === undefined || !version || !name) return undefined;
  return { group, version, kind: name };
}

function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

/** Admits the request. */
export function allow(uid: string): AdmissionReviewResponse {
  return review({ uid, allowed: true });
}

/** One invalid field: its path ("spec.disks[1].name") and what is wrong. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** The object a denial is about, as metav1.StatusDetails names it. */
export interface DeniedObject {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
}

/**
 * Denies with 422 Invalid, as the API server's own validation does: the message lists every
 * field, and each one is also a structured cause. With the kind and name in the details,
 * kubectl prints it like a built-in validation error: `The VirtualMachine "web" is invalid:`
 * and one line per field.
 */
export function denyInvalid(uid: string, target: DeniedObject, problems: readonly FieldProblem[]): AdmissionReviewResponse {
  const lines = problems.map((p) => `${p.path || '(root)'}: ${p.message}`);
  const subject = `${target.kind} ${target.namespace ? `${target.namespace}/` : ''}${target.name}`;
  return review({
    uid,
    allowed: false,
    status: {
      code: 422,
      reason: 'Invalid',
      message: `${subject} is invalid: ${lines.join('; ')}`,
      details: {
        group: target.group,
        kind: target.kind,
        name: target.name,
        causes: problems.map((p) => ({ reason: 'FieldValueInvalid', field: p.path, message: p.message })),
      },
    },
  });
}

/** Denies a request the webhook could not judge (malformed, caches not ready): 400 Bad Request. */
export function denyBadRequest(uid: string, message: string): AdmissionReviewResponse {
  return review({ uid, allowed: false, status: { code: 400, reason: 'BadRequest', message } });
}

/** Denies a request the webhook could not judge because something it asks is unavailable: 503, try again. */
export function denyUnavailable(uid: string, message: string): AdmissionReviewResponse {
  return review({ uid, allowed: false, status: { code: 503, reason: 'ServiceUnavailable', message } });
}
