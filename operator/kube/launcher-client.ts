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
  /**
   * The longest an address is left alone after failed contacts. The first failure silences it
   * for a second, and each further one doubles that up to this: a launcher that is only
   * starting (its port not open yet) is asked again soon, a dead one rarely.
   */
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
  private readonly quiet = new Map<string, { until: number; failures: number }>();

  constructor(private readonly opts: LauncherClientOptions) {}

  /** Milliseconds until `ip` is asked again (0: now). */
  quietRemainingMs(ip: string): number {
    return Math.max(0, (this.quiet.get(ip)?.until ?? 0) - Date.now());
  }

  private silence(ip: string): void {
    const failures = (this.quiet.get(ip)?.failures ?? 0) + 1;
    const ms = Math.min(this.opts.quietMs, 1000 * 2 ** (failures - 1));
    this.quiet.set(ip, { until: Date.now() + ms, failures });
  }

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
      if (!timedOut) this.silence(ip);
      throw new LauncherCallError(`launcher at ${ip} ${timedOut ? 'did not answer in time' : 'unreachable'}: ${String(err)}`, 0, timedOut);
    }
    this.quiet.delete(ip);
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
    if (this.quietRemainingMs(ip) > 0) return undefined;
    try {
      const parsed = report.safeParse(await this.request(ip, token, { method: 'GET', path: '/status' }));
      if (parsed.success) return parsed.data as LauncherReport;
    } catch (err) {
      if (err instanceof LauncherCallError && err.status === 0 && !err.timedOut) return undefined; // silenced already
    }
    this.silence(ip);
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
