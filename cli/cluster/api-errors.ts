/**
 * What a user reads when a call to the API server fails in a cluster verb: one sentence that
 * says what went wrong and what fixes it (the role to ask for, the command to run, the install
 * step, the kubeconfig to check), then what the server said. Pure: the failure and the call in,
 * a {@link ClusterError} out. It never imports the Kubernetes client: it reads the failure's
 * `code` (an API answer's HTTP status, a watch's `statusCode`, or a network error's `code`).
 */

import { printable } from './progress.js';

/** The chart's role that lets a user run the VM verbs (docs/rbac.md). */
export const VM_USER_ROLE = 'kubevmm-vm-user';

/** How kubevmm is installed (README, "Installing with Helm"). */
export const INSTALL_HINT = 'helm install kubevmm helm/kubevmm --namespace kubevmm-system --create-namespace';

/** A cluster verb failed; `message` names the fix. `transient` failures may be retried while waiting. */
export class ClusterError extends Error {
  override readonly name = 'ClusterError';
  constructor(
    message: string,
    readonly transient = false,
    /** The HTTP status, 0 when no answer came. */
    readonly code = 0,
  ) {
    super(message);
  }
}

/** The call that failed. */
export interface FailedCall {
  verb: 'get' | 'patch' | 'watch' | 'apply';
  /** The VM's name. */
  name: string;
  namespace: string;
  /** The API server's URL and where the kubeconfig came from, for network failures. */
  server: string;
  source: string;
  contextName: string;
}

/** The parts of a Kubernetes `Status` the messages use. */
interface StatusBody {
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; group?: string };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET']);

/** The HTTP status of an API answer (ApiException.code, a watch error's statusCode), or 0. */
export function httpStatusOf(err: unknown): number {
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  return typeof e.statusCode === 'number' ? e.statusCode : 0;
}

/** The Status in an answer's body (parsed when it came as text), or undefined. */
export function statusBodyOf(err: unknown): StatusBody | undefined {
  const body = (err as { body?: unknown } | null)?.body;
  if (body && typeof body === 'object') return body as StatusBody;
  if (typeof body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return parsed && typeof parsed === 'object' ? (parsed as StatusBody) : undefined;
  } catch {
    return undefined;
  }
}

/** A network-level failure's code (ECONNREFUSED, a TLS verification code, ...), or undefined. */
function networkCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  return code;
}

/** What the server said, on one line, cut short and without control characters (it goes to a terminal). */
const serverSaid = (status: StatusBody | undefined, err: unknown): string => {
  const raw = status?.message ?? (typeof (err as { body?: unknown } | null)?.body === 'string' ? String((err as { body: string }).body).trim() : '');
  const said = printable(raw);
  return said ? ` (the server said: ${said.length > 300 ? `${said.slice(0, 300)}...` : said})` : '';
};

/** "cannot patch resource "virtualmachines" in API group "kubevmm.io"": what RBAC refused, as the server says it. */
function refusedAction(status: StatusBody | undefined): { verb: string; resource: string; group: string } | undefined {
  const m = /cannot (\w+) resource "([^"]+)" in API group "([^"]*)"/.exec(status?.message ?? '');
  return m ? { verb: m[1]!, resource: m[2]!, group: m[3]! } : undefined;
}

function forbidden(call: FailedCall, status: StatusBody | undefined, err: unknown): ClusterError {
  const action = refusedAction(status);
  // Not RBAC (a namespace being deleted, a quota): the server's own words are the reason.
  if (!action && status?.message) return new ClusterError(`the API server refused to ${call.verb} virtualmachine "${call.name}" in namespace ${call.namespace}: ${printable(status.message)}`, false, 403);
  const verb = action?.verb ?? (call.verb === 'apply' ? 'patch' : call.verb);
  const resource = action?.resource ?? 'virtualmachines';
  const group = action?.group ?? 'kubevmm.io';
  return new ClusterError(
    `you may not ${verb} ${resource} "${call.name}" in namespace ${call.namespace} (${group || 'core'}): ask for the ${VM_USER_ROLE} role (docs/rbac.md)${serverSaid(status, err)}`,
    false,
    403,
  );
}

/**
 * A 404 for a VM names it in the Status details; a 404 for the resource type (no CRD, so no
 * such path) is the API server's plain "404 page not found" or a Status without a name.
 */
function notFound(call: FailedCall, status: StatusBody | undefined): ClusterError {
  if (status?.details?.name !== undefined && status.details.kind === 'virtualmachines') {
    return new ClusterError(`virtualmachine "${call.name}" not found in namespace ${call.namespace}: see the VMs there with \`kubectl get vm -n ${call.namespace}\`, or give -n/--namespace`, false, 404);
  }
  return new ClusterError(`kubevmm is not installed in this cluster (no virtualmachines.kubevmm.io): ${INSTALL_HINT} (README, "Installing with Helm")`, false, 404);
}

function unreachable(call: FailedCall, code: string, err: unknown): ClusterError {
  const reason = err instanceof Error ? err.message.replace(/^request to \S+ failed, reason: /, '') : String(err);
  const where = `the API server ${call.server} (kubeconfig ${call.source}, context ${call.contextName})`;
  if (NETWORK_CODES.has(code)) {
    return new ClusterError(`cannot reach ${where}: ${reason}: check that the cluster is up and that --kubeconfig/--context name it`, true);
  }
  // TLS: the server is there but is not the one the kubeconfig's CA vouches for.
  return new ClusterError(`cannot talk to ${where} securely: ${reason}: check the cluster's certificate-authority in that kubeconfig`);
}

/** The message for a failed API call. */
export function explainFailure(err: unknown, call: FailedCall): ClusterError {
  if (err instanceof ClusterError) return err;
  const code = httpStatusOf(err);
  const status = statusBodyOf(err);
  if (code === 0) {
    const net = networkCode(err);
    if (net) return unreachable(call, net, err);
    return new ClusterError(`${call.verb} virtualmachine "${call.name}" failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  switch (code) {
    case 401:
      return new ClusterError(`the API server ${call.server} did not accept the credentials of context ${call.contextName} in kubeconfig ${call.source}: log in again or fix that context's user${serverSaid(status, err)}`, false, 401);
    case 403:
      return forbidden(call, status, err);
    case 404:
      return notFound(call, status);
    case 409:
      return new ClusterError(`virtualmachine "${call.name}" was changed by someone else at the same time: run the command again${serverSaid(status, err)}`, false, 409);
    case 410:
      return new ClusterError(`the watch of virtualmachine "${call.name}" expired`, true, 410);
    case 400:
    case 422:
      return new ClusterError(`the API server refused the change to virtualmachine "${call.name}"${serverSaid(status, err)}`, false, code);
    default:
      return new ClusterError(`the API server ${call.server} answered HTTP ${code} to ${call.verb} virtualmachine "${call.name}"${serverSaid(status, err)}`, code === 429 || code >= 500, code);
  }
}
