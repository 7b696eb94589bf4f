/**
 * The operator's side of the launcher control API (launcher/control/README.md): status,
 * pause and resume over HTTP with the VM's bearer token. Unreachable launchers (a pod on a
 * simulated node, a network policy) are remembered for a while, so a reconcile does not
 * wait on them every time.
 */
import { z } from 'zod';
import { CONTROL_PORT } from '../../api/layout.js';
import type { AttachRequest, LauncherReport } from '../reconcile/types.js';

const report = z.looseObject({
  state: z.enum(['starting', 'running', 'paused', 'stopping', 'succeeded', 'failed']),
  reason: z.string().optional(),
  message: z.string().optional(),
  accelerator: z.enum(['kvm', 'tcg']),
  startedAt: z.string().optional(),
  disks: z.array(z.looseObject({ name: z.string(), phase: z.enum(['Pending', 'Attaching', 'Attached', 'Detaching', 'Failed']), target: z.string().optional(), message: z.string().optional() })).optional(),
  guest: z.looseObject({ agentConnected: z.boolean(), hostname: z.string().optional(), osName: z.string().optional(), kernel: z.string().optional() }).optional(),
});

/** Options of the launcher client. */
export interface LauncherClientOptions {
  timeoutMs: number;
  /** After a failed contact, how long to leave that address alone. */
  quietMs: number;
  port?: number;
  /** How long an attach call may take (NBD connect and TLS handshake). Default 15 s. */
  attachTimeoutMs?: number;
  /** The HTTP client; default the global fetch (the operator passes httpFetch: no pool per launcher). */
  fetch?: (url: string, init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal }) => Promise<Response>;
}

/**
 * A failed control API call; `status` 0 means no answer came: the launcher could not be
 * reached, or (`timedOut`) it took the request but did not answer in time.
 */
export class LauncherCallError extends Error {
  readonly reason = 'LauncherUnreachable';
  constructor(
    message: string,
    readonly status: number,
    readonly timedOut = false,
  ) {
    super(message);
  }
}

/** Talks to launchers by pod IP. */
export class LauncherClient {
  private readonly quietUntil = new Map<string, number>();

  constructor(private readonly opts: LauncherClientOptions) {}

  private async request(ip: string, token: string, call: { method: 'GET' | 'POST' | 'DELETE'; path: string; body?: unknown; timeoutMs?: number }): Promise<unknown> {
    const { method, path, ...extra } = call;
    const url = `http://${ip.includes(':') ? `[${ip}]` : ip}:${this.opts.port ?? CONTROL_PORT}${path}`;
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(extra.body ? { 'content-type': 'application/json' } : {}) };
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(url, {
        method,
        headers,
        ...(extra.body ? { body: JSON.stringify(extra.body) } : {}),
        signal: AbortSignal.timeout(extra.timeoutMs ?? this.opts.timeoutMs),
      });
    } catch (err) {
      // A slow answer is not an absent launcher: only the latter silences it for a while.
      // By name: the DOMException fetch throws may come from another realm than our Error.
      const timedOut = (err as { name?: unknown } | null)?.name === 'TimeoutError';
      if (!timedOut) this.quietUntil.set(ip, Date.now() + this.opts.quietMs);
      throw new LauncherCallError(`launcher at ${ip} ${timedOut ? 'did not answer in time' : 'unreachable'}: ${String(err)}`, 0, timedOut);
    }
    const body: unknown = await res.json().catch(() => ({}));
    if (!res.ok) throw new LauncherCallError(`launcher ${method} ${path}: ${res.status} ${JSON.stringify(body)}`, res.status);
    return body;
  }

  /**
   * The launcher's status, or undefined when none can be had now. Status is detail on top
   * of the pod's own state, so an unreachable launcher, or something else answering at the
   * pod's address (a simulated node), never fails a reconcile.
   */
  async status(ip: string, token: string): Promise<LauncherReport | undefined> {
    if ((this.quietUntil.get(ip) ?? 0) > Date.now()) return undefined;
    try {
      const parsed = report.safeParse(await this.request(ip, token, { method: 'GET', path: '/status' }));
      if (parsed.success) return parsed.data as LauncherReport;
    } catch {
      // fall through: remembered as quiet below
    }
    this.quietUntil.set(ip, Date.now() + this.opts.quietMs);
    return undefined;
  }

  /** Pauses the guest's vCPUs. */
  async pause(ip: string, token: string): Promise<void> {
    await this.request(ip, token, { method: 'POST', path: '/pause' });
  }

  /** Resumes the guest's vCPUs. */
  async resume(ip: string, token: string): Promise<void> {
    await this.request(ip, token, { method: 'POST', path: '/resume' });
  }

  /**
   * Attaches a disk exported over NBD. An attach that outlasts the timeout carries on in the
   * launcher; its status says how it went.
   */
  async attach(ip: string, token: string, request: AttachRequest): Promise<void> {
    await this.request(ip, token, { method: 'POST', path: '/disks', body: request, timeoutMs: this.opts.attachTimeoutMs ?? 15_000 });
  }

  /**
   * Starts detaching a disk. The launcher waits for the guest to let go (up to its detach
   * timeout); the operator does not: a call still running after a moment is left to finish,
   * and the launcher's status reports Detaching until it has.
   */
  async detach(ip: string, token: string, name: string): Promise<void> {
    try {
      await this.request(ip, token, { method: 'DELETE', path: `/disks/${encodeURIComponent(name)}`, timeoutMs: 2000 });
    } catch (err) {
      if (err instanceof LauncherCallError && err.timedOut) return;
      throw err;
    }
  }
}
