/**
 * What a user reads when a subresource stream is refused before it opens (ADR 0011): the API
 * server or the subresource server answered with an HTTP error and a Kubernetes `Status`
 * instead of `101 Switching Protocols`. Pure: the answer's code and body in, one sentence out
 * that says what went wrong and what fixes it (the role to ask for, the command to run, the
 * APIService to check), followed by what the server itself said.
 */
import { VM_USER_ROLE } from './api-errors.js';
import { printable } from './progress.js';
import { kubeStatus, SUBRESOURCE_GROUP, SUBRESOURCE_VERSION, type KubeStatus, type StreamSubresource } from '../../api/contract/subresource.js';

/** The stream that was asked for. */
export interface StreamTarget {
  namespace: string;
  name: string;
  subresource: StreamSubresource;
}

/** The APIService the aggregator routes `subresources.kubevmm.io` through. */
export const API_SERVICE = `${SUBRESOURCE_VERSION}.${SUBRESOURCE_GROUP}`;


/** The stream was refused; `message` names the fix. The CLI exits 1 with it. */
export class StreamRefusedError extends Error {
  override readonly name = 'StreamRefusedError';
  constructor(
    message: string,
    /** The HTTP status of the refusal. */
    readonly code: number,
    /** The `Status` the server sent, when it sent one. */
    readonly status?: KubeStatus,
  ) {
    super(message);
  }
}

/** The `Status` in a refusal's body, or undefined when the body is something else (a proxy's HTML). */
export function parseStatus(body: string): KubeStatus | undefined {
  try {
    const parsed = kubeStatus.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A body that is not a Status, cut to one short line (it may be a whole HTML page). */
function bodyLine(body: string): string {
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/** What the server said; its text is the server's, so control characters are made visible. */
function serverSaid(status: KubeStatus | undefined, body: string): string {
  const said = printable(status?.message || bodyLine(body));
  return said ? ` (the server said: ${said})` : '';
}

/**
 * A 404 from the subresource server names the VM in its details (api/contract/subresource.ts,
 * `failureStatus`); the API server's own 404 for a group nobody serves does not.
 */
function isVmNotFound(status: KubeStatus | undefined, target: StreamTarget): boolean {
  return status?.details?.group === SUBRESOURCE_GROUP && (status.details.name === undefined || status.details.name === target.name);
}

/**
 * Why a VM's launcher refused: the subresource server ends the message with the launcher's
 * reason in parentheses; the message's words tell it from an older server.
 */
function launcherReason(message: string): string | undefined {
  const named = /\(([A-Z][A-Za-z]+)\)$/.exec(message.trim())?.[1];
  if (named) return named;
  if (/port-forward sessions are open/.test(message)) return 'TooManySessions';
  if (/no network interface/.test(message)) return 'NoNetwork';
  if (/no VNC display|graphics/i.test(message)) return 'NoDisplay';
  if (/cannot .* while the vm is/.test(message)) return 'WrongState';
  return undefined;
}

function conflictMessage(target: StreamTarget, status: KubeStatus | undefined): string {
  const vm = `virtual machine "${target.name}"`;
  const said = status?.message ?? '';
  const start = `start it with \`kubevmm start ${target.name} -n ${target.namespace}\``;
  switch (launcherReason(said)) {
    case 'TooManySessions':
      return `${vm} has the most port-forward sessions open that its launcher takes: close one (another kubevmm port-forward or ssh to it) and try again`;
    case 'NoNetwork':
      return `${vm} has no network interface to forward to: add one to spec.interfaces (binding masquerade); it takes effect at the next start`;
    case 'NoDisplay':
      return `${vm} has no VNC display: set spec.devices.graphics: vnc (it takes effect at the next start)`;
    case 'WrongState': {
      const state = /while the vm is (\w+)/.exec(said)?.[1];
      if (state === 'paused') return `${vm} is paused: resume it with \`kubevmm unpause ${target.name} -n ${target.namespace}\``;
      if (state === 'starting') return `${vm} is still starting: try again in a moment`;
      return `${vm} is not running${state ? ` (it is ${state})` : ''}: ${start}`;
    }
    default:
      return `${vm} is not running: ${start}`;
  }
}

/**
 * A 503 the subresource server answered about the VM itself (its details name the VM): the
 * launcher cannot be reached, the guest port is closed or silent, or a stream limit is hit.
 * The API server's own 503 (no subresource server answering) names no VM.
 */
function isAboutVm(status: KubeStatus | undefined, target: StreamTarget): boolean {
  return status?.details?.group === SUBRESOURCE_GROUP && status.details.name === target.name;
}

/** The sentence for a refusal answered with `code` and `body`. */
export function refusalMessage(target: StreamTarget, code: number, body: string): string {
  const status = parseStatus(body);
  const what = `virtualmachines/${target.subresource}`;
  const said = serverSaid(status, body);
  switch (code) {
    case 400:
      return `the request for ${what} of "${target.name}" was refused as invalid${said}`;
    case 401:
      return `the API server did not accept the kubeconfig's credentials: log in again or check the context's user${said}`;
    case 403:
      return (
        `you may not get ${what} in ${SUBRESOURCE_GROUP} (namespace "${target.namespace}"): ` +
        `ask your cluster admin for a binding to the ${VM_USER_ROLE} role (edit and admin include it)${said}`
      );
    case 404:
      return isVmNotFound(status, target)
        ? `virtual machine "${target.name}" was not found in namespace "${target.namespace}": check the name and -n/--namespace${said}`
        : `kubevmm's subresource API is not installed or not available in this cluster: check \`kubectl get apiservice ${API_SERVICE}\`${said}`;
    case 409:
      return `${conflictMessage(target, status)}${said}`;
    case 503:
      if (isAboutVm(status, target)) return `${what} of "${target.name}" is not available: ${printable(status?.message ?? '')}`;
      return (
        `kubevmm's subresource API is unavailable: check \`kubectl get apiservice ${API_SERVICE}\` ` +
        `and the subresource server's pods in kubevmm's namespace${said}`
      );
    default:
      return `the API server refused ${what} of "${target.name}" with HTTP ${code}${said}`;
  }
}

/** The refusal as an error for the runners. */
export function refusalError(target: StreamTarget, code: number, body: string): StreamRefusedError {
  return new StreamRefusedError(refusalMessage(target, code, body), code, parseStatus(body));
}
