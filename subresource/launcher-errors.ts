/**
 * How talking to a launcher fails, as typed errors, and the Kubernetes Status each becomes.
 * A launcher's own refusal keeps its message (it says what is wrong with the VM: QEMU not
 * running, no VNC display, no network); failures to reach it say where to look.
 */
import type { IncomingMessage } from 'node:http';
import { controlError } from '../api/contract/control.js';
import { failureStatus, type KubeStatus, type StatusReason, type SubresourceRequest } from '../api/contract/subresource.js';

/** A failure of a launcher call; `reason` is stable CamelCase for logs. */
export abstract class LauncherError extends Error {
  abstract readonly reason: string;
}

/** The launcher answered with an error (`status` 4xx/5xx, its `{reason, message}`). */
export class LauncherRefusedError extends LauncherError {
  readonly reason = 'LauncherRefused';
  override readonly name = 'LauncherRefusedError';
  constructor(
    message: string,
    readonly status: number,
    readonly launcherReason: string,
  ) {
    super(message);
  }
}

/** No answer: nobody listens at the pod IP, the network drops us, or the answer took too long. */
export class LauncherUnreachableError extends LauncherError {
  readonly reason = 'LauncherUnreachable';
  override readonly name = 'LauncherUnreachableError';
  constructor(
    message: string,
    readonly timedOut = false,
  ) {
    super(message);
  }
}

/** Whoever answered at the pod IP did not present the VM's launcher certificate. */
export class LauncherIdentityError extends LauncherError {
  readonly reason = 'LauncherIdentityRejected';
  override readonly name = 'LauncherIdentityError';
}

/** The launcher answered, but not as the control API contract says (another image version?). */
export class LauncherContractError extends LauncherError {
  readonly reason = 'LauncherContractMismatch';
  override readonly name = 'LauncherContractError';
}

/** The server's own launcher client certificate is not loaded (its Secret not mounted yet?). */
export class LauncherClientNotReadyError extends LauncherError {
  readonly reason = 'LauncherClientNotReady';
  override readonly name = 'LauncherClientNotReadyError';
}

/** Largest launcher answer read: a refusal or a metrics report is a few KiB. */
const MAX_ANSWER_BYTES = 256 * 1024;

/**
 * Reads a launcher's answer: the JSON of a 2xx, or a LauncherRefusedError carrying its
 * `{reason, message}`; an answer that is not JSON is a LauncherContractError.
 */
export function readLauncherAnswer(res: IncomingMessage, what: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) res.destroy(new LauncherContractError(`the launcher's answer to ${what} is larger than ${MAX_ANSWER_BYTES} bytes`));
      else chunks.push(chunk);
    });
    res.on('error', reject);
    res.on('end', () => {
      const status = res.statusCode ?? 0;
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return reject(new LauncherContractError(`the launcher answered ${what} with ${status} and a body that is not JSON: ${text.slice(0, 200)}`));
      }
      if (status >= 200 && status < 300) return resolve(json);
      const error = controlError.safeParse(json);
      if (!error.success) return reject(new LauncherContractError(`the launcher answered ${what} with ${status} and no {reason, message}: ${text.slice(0, 200)}`));
      reject(new LauncherRefusedError(error.data.message, status, error.data.reason));
    });
  });
}

/** Launcher answers whose meaning a client can act on keep their code; others are the server's fault. */
const REASON_OF_LAUNCHER_STATUS: Readonly<Record<number, StatusReason>> = { 400: 'BadRequest', 409: 'Conflict', 503: 'ServiceUnavailable' };

/**
 * The launcher could not reach what is behind it (502: the guest port is closed, the display
 * gone) or it did not answer in time (504: a silent guest port). The contract's reasons have
 * neither Bad Gateway nor Timeout: these are 503s that carry the launcher's reason and message.
 */
const BEHIND_THE_LAUNCHER = new Set([502, 504]);

/**
 * The Status a launcher failure is answered with. Users read what is wrong with their VM, never
 * the pod IP or TLS detail of a failure to reach it: those stay in the server's log (the error's
 * own message, which the callers log).
 */
export function launcherFailureStatus(err: unknown, request: SubresourceRequest): KubeStatus {
  const vm = `VM ${request.namespace}/${request.name}`;
  const named = { name: request.name };
  const seeLog = "the subresource server's log has the detail";
  if (err instanceof LauncherRefusedError) {
    const reason = REASON_OF_LAUNCHER_STATUS[err.status];
    // The launcher's reason ends the message: clients key their advice on it (cli/cluster/refusal.ts).
    const said = `${vm}: ${err.message} (${err.launcherReason})`;
    if (reason) return failureStatus(reason, said, named);
    if (BEHIND_THE_LAUNCHER.has(err.status)) return failureStatus('ServiceUnavailable', said, named);
    return failureStatus('InternalError', `the launcher of ${vm} refused ${request.subresource} with ${err.status} ${err.launcherReason}: ${err.message} (is its launcher image of another kubevmm version?)`, named);
  }
  if (err instanceof LauncherUnreachableError) {
    const what = err.timedOut ? 'did not answer in time' : 'cannot be reached';
    return failureStatus('ServiceUnavailable', `the launcher of ${vm} ${what}; it may be starting, or a NetworkPolicy keeps the subresource server from its control port`, named);
  }
  if (err instanceof LauncherIdentityError) return failureStatus('InternalError', `refused to connect: the server at the launcher pod's address of ${vm} did not present that VM's launcher certificate; ${seeLog}`, named);
  if (err instanceof LauncherClientNotReadyError) return failureStatus('ServiceUnavailable', `${err.message}; try again shortly`, named);
  if (err instanceof LauncherContractError) return failureStatus('InternalError', `the launcher of ${vm} answered ${request.subresource} outside the control API contract (is its launcher image of another kubevmm version?); ${seeLog}`, named);
  return failureStatus('InternalError', `${request.subresource} of ${vm} failed; ${seeLog}`, named);
}
