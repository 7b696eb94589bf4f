/**
 * Whether a request may open its subresource, in the order ADR 0011 fixes: who is asking (the
 * front proxy's certificate, then its headers), what is asked (the path, the method, a
 * WebSocket for a stream), may they (a SubjectAccessReview for the user), and is there a
 * launcher to ask (the VM, its display, its running launcher pod). Every "no" is a Kubernetes
 * Status; the VM and its pod are read only after the user was allowed.
 */
import { BEARER_PROTOCOL_PREFIX, failureStatus, parseSubresourcePath, selectStreamProtocol, STREAM_PROTOCOL, streamSubresource, type KubeStatus, type StatusReason, type SubresourceRequest } from '../api/contract/subresource.js';
import { accessReview, interpretAccessReview, verbOf } from './auth/access-review.js';
import { authenticateRequest, type DistinctHeaders, type RequestHeaderConfig, type UserIdentity } from './auth/request-header.js';
import { KubeCallError, type PodFacts, type SubresourceCluster, type VmFacts } from './kube.js';
import type { LauncherTarget } from './launcher-dial.js';

/** What the checks need. */
export interface AdmitDeps {
  /** The front proxy's settings in force; undefined until they were read. */
  requestHeader: () => RequestHeaderConfig | undefined;
  cluster: SubresourceCluster;
  now?: () => Date;
}

/** The request as it arrived. */
export interface IncomingFacts {
  method: string;
  /** Path and query. */
  url: string;
  headers: DistinctHeaders;
  /** The TLS peer's certificate (DER); undefined when none was presented. */
  peerCertificate: Buffer | undefined;
}

/** A refusal: the Status to answer, and what to log beside it. */
export interface Refusal {
  ok: false;
  status: KubeStatus;
  log: string;
}

/** Who is asking, or the refusal (401, or 503 before the front proxy's settings are known). */
export function authenticate(deps: AdmitDeps, facts: IncomingFacts): { ok: true; identity: UserIdentity } | Refusal {
  const config = deps.requestHeader();
  if (!config) {
    const message = 'the subresource server has not read the front proxy settings (kube-system/extension-apiserver-authentication) yet; try again shortly';
    return { ok: false, status: failureStatus('ServiceUnavailable', message), log: 'requestheader settings not loaded' };
  }
  const result = authenticateRequest({ peerCertificate: facts.peerCertificate, headers: facts.headers, now: deps.now?.() ?? new Date() }, config);
  if (result.ok) return result;
  return { ok: false, status: failureStatus('Unauthorized', result.refusal.message), log: result.refusal.reason };
}

function headerValue(headers: DistinctHeaders, name: string): string {
  return headers[name]?.join(',') ?? '';
}

/** Whether the request opens a WebSocket (ws checks the handshake's details again). */
export function isWebSocket(headers: DistinctHeaders): boolean {
  return headerValue(headers, 'upgrade').toLowerCase() === 'websocket';
}

/** The subprotocols a WebSocket client offered. */
export function offeredProtocols(headers: DistinctHeaders): string[] {
  return headerValue(headers, 'sec-websocket-protocol')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/**
 * A subprotocol that may carry a credential: the bearer prefix in any case (a client may
 * spell it otherwise; header values are not case-folded), or anything naming a bearer token
 * or authorization. Such a value never goes into a message, which is also logged.
 */
function bearerLike(protocol: string): boolean {
  const lower = protocol.toLowerCase();
  return lower.startsWith(BEARER_PROTOCOL_PREFIX.toLowerCase()) || lower.includes('bearer') || lower.includes('authorization');
}

/** Why the request's shape does not fit its subresource; undefined when it does. Never echoes a bearer subprotocol. */
export function shapeProblem(request: SubresourceRequest, facts: IncomingFacts): string | undefined {
  const stream = streamSubresource.safeParse(request.subresource).success;
  const websocket = isWebSocket(facts.headers);
  if (!stream) return websocket ? `${request.subresource} is not a stream: GET it without Upgrade` : undefined;
  if (!websocket) return `${request.subresource} is a stream: open it as a WebSocket (GET with Upgrade: websocket) offering the subprotocol ${STREAM_PROTOCOL}`;
  const key = headerValue(facts.headers, 'sec-websocket-key');
  const version = headerValue(facts.headers, 'sec-websocket-version');
  if (!/^[+/0-9A-Za-z]{22}==$/.test(key) || (version !== '13' && version !== '8')) return 'the WebSocket handshake is incomplete: Sec-WebSocket-Key and Sec-WebSocket-Version 13 are needed';
  if (!selectStreamProtocol(offeredProtocols(facts.headers))) {
    const others = offeredProtocols(facts.headers).filter((p) => !bearerLike(p));
    return `the WebSocket must offer the subprotocol ${STREAM_PROTOCOL}${others.length ? ` (offered: ${others.join(', ')})` : ''}`;
  }
  return undefined;
}

/** A failed API call as a Status: the API server unavailable is 503, anything else is the server's own fault. */
function kubeFailure(err: unknown, what: string, request: SubresourceRequest): Refusal {
  const code = err instanceof KubeCallError ? err.code : undefined;
  const reason: StatusReason = code === undefined || code === 429 || code >= 500 ? 'ServiceUnavailable' : 'InternalError';
  const message = `${what} failed: ${err instanceof Error ? err.message : String(err)}`;
  return { ok: false, status: failureStatus(reason, reason === 'ServiceUnavailable' ? `${message}; try again` : message, { name: request.name }), log: message };
}

/**
 * Where the VM's launcher is, or why there is none to talk to: its pod must be Running, have
 * an IP, and be controlled by this VM (its UID, ADR 0009), not by a deleted VM of the same name.
 */
export function launcherTarget(vm: VmFacts, pod: PodFacts | undefined): { ok: true; target: LauncherTarget } | { ok: false; why: string } {
  if (!pod) return { ok: false, why: 'it has no launcher pod' };
  if (pod.controllerUid !== vm.uid) return { ok: false, why: 'its launcher pod belongs to an earlier VM of that name' };
  if (pod.phase !== 'Running') return { ok: false, why: `its launcher pod is ${pod.phase ?? 'not started'}` };
  if (!pod.podIP) return { ok: false, why: 'its launcher pod has no IP yet' };
  return { ok: true, target: { ip: pod.podIP, vmUid: vm.uid } };
}

/** A request that may go to its launcher. */
export interface Admitted {
  ok: true;
  identity: UserIdentity;
  request: SubresourceRequest;
  target: LauncherTarget;
}

function refuse(reason: StatusReason, message: string, request?: SubresourceRequest): Refusal {
  return { ok: false, status: failureStatus(reason, message, request ? { name: request.name } : undefined), log: message };
}

/** The checks after authentication, up to the launcher's address. */
export async function admitSubresource(deps: AdmitDeps, identity: UserIdentity, facts: IncomingFacts): Promise<Admitted | Refusal> {
  const parsed = parseSubresourcePath(facts.url);
  if (!parsed.ok) return refuse(parsed.refusal.code === 400 ? 'BadRequest' : 'NotFound', parsed.refusal.message);
  const { request } = parsed;
  if (facts.method !== 'GET') return refuse('MethodNotAllowed', `${facts.method} is not allowed on virtualmachines/${request.subresource}: open it with GET`, request);
  const problem = shapeProblem(request, facts);
  if (problem) return refuse('BadRequest', problem, request);

  // The verb the API server derives from the request, so both checks ask the same question.
  const question = { identity, request, verb: verbOf(facts.method) ?? 'get' };
  let answer: unknown;
  try {
    answer = await deps.cluster.review(accessReview(question));
  } catch (err) {
    return kubeFailure(err, 'the permission check (SubjectAccessReview)', request);
  }
  const decision = interpretAccessReview(answer, question);
  if (!decision.allowed) return { ok: false, status: decision.status, log: decision.log };

  let vm: VmFacts | undefined;
  let pod: PodFacts | undefined;
  try {
    vm = await deps.cluster.virtualMachine(request.namespace, request.name);
    if (!vm) return refuse('NotFound', `virtualmachines.kubevmm.io "${request.name}" not found in namespace "${request.namespace}"`, request);
    if (request.subresource === 'vnc' && vm.graphics !== undefined && vm.graphics !== 'vnc') {
      return refuse('Conflict', `VM ${request.namespace}/${request.name} has no VNC display: spec.devices.graphics is "${vm.graphics}"; set it to vnc and restart the VM to get one`, request);
    }
    pod = await deps.cluster.launcherPod(request.namespace, request.name);
  } catch (err) {
    return kubeFailure(err, `reading VM ${request.namespace}/${request.name}`, request);
  }
  const where = launcherTarget(vm, pod);
  if (!where.ok) return refuse('Conflict', `VM ${request.namespace}/${request.name} is not running (${where.why}); start it with "kubevmm start ${request.name} -n ${request.namespace}"`, request);
  return { ok: true, identity, request, target: where.target };
}
