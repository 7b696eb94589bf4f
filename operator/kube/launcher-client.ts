/**
 * The operator's side of the launcher control API (launcher/control/README.md), over mutual
 * TLS (ADR 0009): it presents its client certificate, and accepts only a launcher whose
 * certificate the launcher CA issued for that VM's UID. Answers are parsed with the
 * contract's schemas (api/contract/control.ts): one that does not match is a
 * LauncherContractError naming the field. Unreachable launchers (a pod on a simulated node,
 * a network policy) are remembered for a while, so a reconcile does not wait on them every time.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { z } from 'zod';
import { controlError, describeIssues, diskStatus, launcherStatus, type AttachRequest, type LauncherStatus } from '../../api/contract/control.js';
import { importerStatus, type ImporterStatus } from '../../api/contract/importer.js';
import { CONTROL_PORT, launcherServerName } from '../../api/layout.js';

/** The client's TLS material (operator/pki ClientIdentity gives it, renewed). */
export interface LauncherClientTls {
  ca: string;
  cert: string;
  key: string;
}

/** Options of the launcher client. */
export interface LauncherClientOptions {
  timeoutMs: number;
  /**
   * The longest an address is left alone after failed contacts. The first failure silences it
   * for a second, and each further one doubles that up to this: a launcher that is only
   * starting (its port not open yet) is asked again soon, a dead one rarely.
   */
  quietMs: number;
  /** The client certificate to present; asked before each call, so a renewed one is used at once. */
  tls: () => Promise<LauncherClientTls>;
  port?: number;
  /** How long an attach call may take (NBD connect and TLS handshake). Default 15 s. */
  attachTimeoutMs?: number;
}

/** Which launcher: the pod's IP, and the VM whose certificate it must present. */
export interface LauncherTarget {
  ip: string;
  vmUid: string;
}

/** What GET /status gave: the launcher's report and when its certificate runs out. */
export interface LauncherObservation {
  status: LauncherStatus;
  /** notAfter of the certificate the launcher served (for renewal). */
  certificateNotAfter?: Date;
}

/**
 * A failed control API call; `status` 0 means no answer came: the launcher could not be
 * reached, or (`timedOut`) it took the request but did not answer in time.
 */
export class LauncherCallError extends Error {
  readonly reason: string = 'LauncherUnreachable';
  constructor(
    message: string,
    readonly status: number,
    readonly timedOut = false,
  ) {
    super(message);
  }
}

/** The launcher answered, but not in the shape the contract says (a launcher of another version?). */
export class LauncherContractError extends LauncherCallError {
  override readonly reason = 'LauncherContractMismatch';
  override readonly name = 'LauncherContractError';
}

/**
 * The launcher presented a certificate that is not the VM's (another VM's, another CA's,
 * expired): whoever answers at that IP is not taken for the launcher.
 */
export class LauncherIdentityError extends LauncherCallError {
  override readonly reason = 'LauncherIdentityRejected';
  override readonly name = 'LauncherIdentityError';
}

/** Node's codes for a peer certificate that failed verification (not for a peer that speaks no TLS). */
const IDENTITY_CODES = /^(ERR_TLS_CERT_ALTNAME_INVALID|CERT_|UNABLE_TO_(VERIFY|GET_ISSUER)|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/;

/** Largest answer read: a status with many disks is a few KiB. */
const MAX_ANSWER_BYTES = 1024 * 1024;

interface Answer {
  status: number;
  body: string;
  notAfter?: Date;
}

function readAnswer(res: IncomingMessage): Promise<Answer> {
  // Read now: a kept-alive socket is handed back to the agent once the answer has ended.
  const validTo = (res.socket as TLSSocket | null)?.getPeerCertificate?.()?.valid_to;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) res.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
      else chunks.push(chunk);
    });
    res.on('error', reject);
    res.on('end', () => {
      resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(validTo ? { notAfter: new Date(validTo) } : {}) });
    });
  });
}

/** Talks to launchers by pod IP. */
export class LauncherClient {
  private readonly quiet = new Map<string, { until: number; failures: number }>();
  private agent: { cert: string; agent: https.Agent } | undefined;

  constructor(private readonly opts: LauncherClientOptions) {}

  /** Milliseconds until `ip` is asked for its status again (0: now). */
  quietRemainingMs(ip: string): number {
    return Math.max(0, (this.quiet.get(ip)?.until ?? 0) - Date.now());
  }

  private silence(ip: string): void {
    const failures = (this.quiet.get(ip)?.failures ?? 0) + 1;
    const ms = Math.min(this.opts.quietMs, 1000 * 2 ** (failures - 1));
    this.quiet.set(ip, { until: Date.now() + ms, failures });
  }

  /** One kept-alive agent per client certificate: a renewed certificate gets a new one. */
  private async agentFor(): Promise<https.Agent> {
    const tls = await this.opts.tls();
    if (this.agent?.cert !== tls.cert) {
      this.agent?.agent.destroy();
      // No session resumption: a resumed session shows no peer certificate, and its expiry
      // is what tells the operator to renew (kept-alive connections still save handshakes).
      this.agent = { cert: tls.cert, agent: new https.Agent({ keepAlive: true, maxCachedSessions: 0, ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }) };
    }
    return this.agent.agent;
  }

  private async send(target: LauncherTarget, call: { method: 'GET' | 'POST' | 'DELETE'; path: string; body?: unknown; timeoutMs?: number; eager?: boolean }): Promise<Answer> {
    const agent = await this.agentFor();
    const signal = AbortSignal.timeout(call.timeoutMs ?? this.opts.timeoutMs);
    const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
    return new Promise<Answer>((resolve, reject) => {
      const req = https.request(
        {
          host: target.ip,
          port: this.opts.port ?? CONTROL_PORT,
          method: call.method,
          path: call.path,
          agent,
          // The identity checked against the launcher's certificate; the pod IP is only where to dial.
          servername: launcherServerName(target.vmUid),
          signal,
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        },
        (res) => {
          this.quiet.delete(target.ip); // an answer: the launcher is there
          void readAnswer(res).then(resolve, reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    }).catch((err: unknown) => {
      const code = String((err as { code?: unknown } | null)?.code ?? '');
      if (IDENTITY_CODES.test(code)) {
        this.silence(target.ip);
        throw new LauncherIdentityError(`the server at ${target.ip} is not the launcher of VM ${target.vmUid}: ${String(err)}`, 0);
      }
      // A slow answer is not an absent launcher: only the latter silences it for a while.
      const timedOut = signal.aborted;
      if (!timedOut && !call.eager) this.silence(target.ip);
      throw new LauncherCallError(`launcher at ${target.ip} ${timedOut ? 'did not answer in time' : 'unreachable'}: ${String(err)}`, 0, timedOut);
    });
  }

  /** A call whose successful answer must match `schema`. */
  private async call<T extends z.ZodType>(target: LauncherTarget, call: Parameters<LauncherClient['send']>[1], schema: T): Promise<{ value: z.infer<T>; notAfter?: Date }> {
    const answer = await this.send(target, call);
    const what = `launcher at ${target.ip} answered ${call.method} ${call.path}`;
    let json: unknown;
    try {
      json = JSON.parse(answer.body);
    } catch {
      throw new LauncherContractError(`${what} with ${answer.status} and a body that is not JSON: ${answer.body.slice(0, 200)}`, answer.status);
    }
    if (answer.status < 200 || answer.status > 299) {
      const error = controlError.safeParse(json);
      const detail = error.success ? `${error.data.reason}: ${error.data.message}` : JSON.stringify(json).slice(0, 200);
      throw new LauncherCallError(`${what} ${answer.status} ${detail}`, answer.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new LauncherContractError(`${what} with a body that does not match the control API contract (launcher image of another version?): ${describeIssues(parsed.error)}`, answer.status);
    }
    return { value: parsed.data, ...(answer.notAfter ? { notAfter: answer.notAfter } : {}) };
  }

  /**
   * The launcher's status, or undefined when it cannot be reached now. Status is detail on
   * top of the pod's own state, so an unreachable launcher never fails a reconcile; an answer
   * that is refused or breaks the contract rejects, for the caller to report. `eager`: the
   * launcher has just started and is expected to listen any moment, so an absent one is
   * neither skipped nor silenced for a while (its VM is Running as soon as it says so).
   */
  async status(target: LauncherTarget, opts: { eager?: boolean } = {}): Promise<LauncherObservation | undefined> {
    if (!opts.eager && this.quietRemainingMs(target.ip) > 0) return undefined;
    try {
      const { value, notAfter } = await this.call(target, { method: 'GET', path: '/status', ...(opts.eager ? { eager: true } : {}) }, launcherStatus);
      return { status: value, ...(notAfter ? { certificateNotAfter: notAfter } : {}) };
    } catch (err) {
      // Nobody there (yet): quiet. Somebody refusing us, or not the VM's launcher: the caller says so.
      const absent = err instanceof LauncherCallError && err.status === 0 && !(err instanceof LauncherContractError) && !(err instanceof LauncherIdentityError);
      if (absent) return undefined;
      // send() has silenced a launcher that is not the VM's already: count that failure once.
      if (!(err instanceof LauncherIdentityError)) this.silence(target.ip);
      throw err;
    }
  }

  /**
   * An importer's progress (`GET /status` on an importer pod, api/contract/importer.ts; use a
   * client made with `port: IMPORTER_PORT`), checked against the certificate issued for its
   * owner's UID. Undefined when it cannot be reached now, as for launchers.
   */
  async importerStatus(target: LauncherTarget): Promise<ImporterStatus | undefined> {
    if (this.quietRemainingMs(target.ip) > 0) return undefined;
    try {
      return (await this.call(target, { method: 'GET', path: '/status' }, importerStatus)).value;
    } catch (err) {
      if (err instanceof LauncherCallError && err.status === 0 && !(err instanceof LauncherContractError) && !(err instanceof LauncherIdentityError)) return undefined;
      if (!(err instanceof LauncherIdentityError)) this.silence(target.ip); // said once per quiet period
      throw err;
    }
  }

  /** Pauses the guest's vCPUs. */
  async pause(target: LauncherTarget): Promise<void> {
    await this.call(target, { method: 'POST', path: '/pause' }, launcherStatus);
  }

  /** Resumes the guest's vCPUs. */
  async resume(target: LauncherTarget): Promise<void> {
    await this.call(target, { method: 'POST', path: '/resume' }, launcherStatus);
  }

  /**
   * Attaches a disk exported over NBD. An attach that outlasts the timeout carries on in the
   * launcher; its status says how it went.
   */
  async attach(target: LauncherTarget, request: AttachRequest): Promise<void> {
    await this.call(target, { method: 'POST', path: '/disks', body: request, timeoutMs: this.opts.attachTimeoutMs ?? 15_000 }, diskStatus);
  }

  /**
   * Starts detaching a disk. The launcher waits for the guest to let go (up to its detach
   * timeout); the operator does not: a call still running after a moment is left to finish,
   * and the launcher's status reports Detaching until it has.
   */
  async detach(target: LauncherTarget, name: string): Promise<void> {
    try {
      await this.call(target, { method: 'DELETE', path: `/disks/${encodeURIComponent(name)}`, timeoutMs: 2000 }, launcherStatus);
    } catch (err) {
      if (err instanceof LauncherCallError && err.timedOut) return;
      throw err;
    }
  }

  /** Closes kept-alive connections (at shutdown, and in tests). */
  close(): void {
    this.agent?.agent.destroy();
    this.agent = undefined;
  }
}
