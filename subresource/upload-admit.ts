/**
 * Whether a request may send bytes to an image's importer, in the order the VM subresources
 * use (ADR 0011): what is asked (the path, HEAD or PUT), may the user (a SubjectAccessReview
 * for `get` or `update` on `virtualmachineimages/upload`, the verbs the API server derives from
 * the methods), and is there an importer to take it: an image with an upload source, not yet
 * Ready, whose status names an importer pod that is Running, has an IP and is controlled by this
 * image (its UID: not a pod of a deleted image of the same name, nor anybody's pod of that name).
 * The image and the pod are read only after the user was allowed.
 */
import { failureStatus, parseImageUploadPath, SUBRESOURCE_GROUP, SUBRESOURCE_VERSION, UPLOAD_METHODS, type ImageUploadRequest, type KubeStatus, type StatusReason } from '../api/contract/subresource.js';
import { subjectAccessReview } from '../api/access-review.js';
import { accessReviewAnswer, verbOf } from './auth/access-review.js';
import type { UserIdentity } from './auth/request-header.js';
import { KubeCallError, type ImageFacts, type PodFacts, type SubresourceCluster } from './kube.js';

/** Where the importer is: its pod's IP, and the image whose certificate it must present. */
export interface ImporterTarget {
  ip: string;
  imageUid: string;
}

/** An upload request that may go to its importer. */
export interface AdmittedUpload {
  ok: true;
  request: ImageUploadRequest;
  target: ImporterTarget;
}

/** A refusal: the Status to answer, and a line for the log. */
export interface UploadRefusal {
  ok: false;
  status: KubeStatus;
  log: string;
}

/** A Status about one image (details name it as virtualmachineimages of subresources.kubevmm.io). */
export function imageStatus(reason: StatusReason, message: string, name?: string): KubeStatus {
  const status = failureStatus(reason, message);
  return name ? { ...status, details: { name, group: SUBRESOURCE_GROUP, kind: 'virtualmachineimages' } } : status;
}

function refuse(reason: StatusReason, message: string, name?: string): UploadRefusal {
  return { ok: false, status: imageStatus(reason, message, name), log: message };
}

/** The SubjectAccessReview for `identity` doing `verb` on the image's upload subresource. */
export function uploadAccessReview(identity: UserIdentity, request: ImageUploadRequest, verb: string): Record<string, unknown> {
  return subjectAccessReview(identity, { group: SUBRESOURCE_GROUP, version: SUBRESOURCE_VERSION, resource: 'virtualmachineimages', subresource: 'upload', namespace: request.namespace, name: request.name, verb });
}

/** The sentence a refused user reads. */
export function uploadDenial(identity: UserIdentity, request: ImageUploadRequest, verb: string, reason?: string): string {
  return (
    `virtualmachineimages.${SUBRESOURCE_GROUP} "${request.name}" is forbidden: user "${identity.user}" cannot ${verb} resource "virtualmachineimages/upload" ` +
    `in API group "${SUBRESOURCE_GROUP}" in the namespace "${request.namespace}"${reason ? ` (${reason})` : ''}; uploading needs get and update on virtualmachineimages/upload, ` +
    'which the VM-user role grants (aggregated into edit and admin)'
  );
}

function kubeFailure(err: unknown, what: string, name?: string): UploadRefusal {
  const code = err instanceof KubeCallError ? err.code : undefined;
  const reason: StatusReason = code === undefined || code === 429 || code >= 500 ? 'ServiceUnavailable' : 'InternalError';
  const message = `${what} failed: ${err instanceof Error ? err.message : String(err)}`;
  return refuse(reason, reason === 'ServiceUnavailable' ? `${message}; try again` : message, name);
}

/** Why this image's importer cannot take bytes now; undefined when it can (then `pod` is set). */
export function importerProblem(request: ImageUploadRequest, image: ImageFacts, pod: PodFacts | undefined): { reason: StatusReason; message: string } | undefined {
  const label = `image ${request.namespace}/${request.name}`;
  if (image.source !== 'upload') return { reason: 'Conflict', message: `${label} takes no upload: its source is ${image.source ?? 'not set'} (spec.source.upload: {} makes an image to upload to)` };
  if (image.phase === 'Ready') return { reason: 'Conflict', message: `${label} is Ready: its upload is complete. To replace the disk, delete the image and upload again` };
  if (image.phase === 'Failed') return { reason: 'Conflict', message: `${label} is Failed (kubectl describe vmimage ${request.name} says why); delete and create it again to upload anew` };
  if (!image.importerPod) return { reason: 'ServiceUnavailable', message: `${label} has no importer pod yet (phase ${image.phase ?? 'Pending'}); try again shortly` };
  if (!pod) return { reason: 'ServiceUnavailable', message: `${label}: its importer pod ${image.importerPod} does not exist (yet); try again shortly` };
  if (pod.controllerUid !== image.uid) return { reason: 'Conflict', message: `${label}: pod ${image.importerPod} is not this image's importer (another controller owns it); nothing is sent to it` };
  if (pod.phase !== 'Running' || !pod.podIP) return { reason: 'ServiceUnavailable', message: `${label}: its importer pod ${image.importerPod} is ${pod.phase ?? 'not started'}${pod.podIP ? '' : ' and has no IP yet'}; try again shortly` };
  return undefined;
}

/** The checks after authentication, up to the importer's address. */
export async function admitUpload(cluster: SubresourceCluster, identity: UserIdentity, facts: { method: string; url: string }): Promise<AdmittedUpload | UploadRefusal> {
  const parsed = parseImageUploadPath(facts.url);
  if (!parsed.ok) return refuse(parsed.refusal.code === 400 ? 'BadRequest' : 'NotFound', parsed.refusal.message);
  const { request } = parsed;
  if (!(UPLOAD_METHODS as readonly string[]).includes(facts.method)) return refuse('MethodNotAllowed', `${facts.method} is not allowed on virtualmachineimages/upload: HEAD asks how much arrived, PUT sends more`, request.name);
  const verb = verbOf(facts.method) ?? 'get';
  let answer: unknown;
  try {
    answer = await cluster.review(uploadAccessReview(identity, request, verb));
  } catch (err) {
    return kubeFailure(err, 'the permission check (SubjectAccessReview)', request.name);
  }
  const decision = accessReviewAnswer.safeParse(answer);
  if (!decision.success) return refuse('ServiceUnavailable', 'the permission check (SubjectAccessReview) gave no readable answer; try again', request.name);
  if (!decision.data.status.allowed) return { ok: false, status: imageStatus('Forbidden', uploadDenial(identity, request, verb, decision.data.status.reason), request.name), log: `denied ${identity.user} ${verb} virtualmachineimages/upload ${request.namespace}/${request.name}` };

  let image: ImageFacts | undefined;
  let pod: PodFacts | undefined;
  try {
    image = await cluster.virtualMachineImage(request.namespace, request.name);
    if (!image) return refuse('NotFound', `virtualmachineimages.kubevmm.io "${request.name}" not found in namespace "${request.namespace}"`, request.name);
    if (image.importerPod) pod = await cluster.pod(request.namespace, image.importerPod);
  } catch (err) {
    return kubeFailure(err, `reading image ${request.namespace}/${request.name}`, request.name);
  }
  const problem = importerProblem(request, image, pod);
  if (problem) return refuse(problem.reason, problem.message, request.name);
  return { ok: true, request, target: { ip: pod!.podIP!, imageUid: image.uid } };
}
