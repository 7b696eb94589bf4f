/**
 * The front proxy's settings (ADR 0011, step 2), kept current: the ConfigMap
 * `kube-system/extension-apiserver-authentication` is read at start and again on a timer. A
 * periodic read, not a watch: the API server rewrites the ConfigMap only when its front-proxy
 * flags or CA files change, one GET every half minute costs nothing, and a timer cannot go
 * silent the way a watch can. Until the first good read no identity is believed (every
 * request but the probes is answered 503) and /readyz fails. A read that fails later, or data
 * that no longer parses, leaves the settings in force and is logged.
 */
import { requestHeaderConfig, type RequestHeaderConfig } from './auth/request-header.js';
import type { SubresourceLog } from './log.js';

const CONFIGMAP = 'the ConfigMap kube-system/extension-apiserver-authentication';

/** Options of {@link RequestHeaderSource}. */
export interface RequestHeaderSourceOptions {
  /** Reads the ConfigMap's data. */
  read: () => Promise<Record<string, string>>;
  log: SubresourceLog;
  /** Time between reads once the settings are known. Default 30 s. */
  intervalMs?: number;
  /** Time between attempts while none has succeeded yet. Default 2 s. */
  retryMs?: number;
}

/** The requestheader settings in force, re-read periodically. */
export class RequestHeaderSource {
  private config: RequestHeaderConfig | undefined;
  private lastData: string | undefined;
  /** Why there are no settings: a short public sentence, and the detail for the log. */
  private problem = { public: `${CONFIGMAP} was not read yet`, detail: 'no read attempted yet' };
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: RequestHeaderSourceOptions) {}

  /** The settings in force; undefined until the ConfigMap was read once. */
  current(): RequestHeaderConfig | undefined {
    return this.config;
  }

  /**
   * Why there are no settings yet, for /readyz; undefined once there are. Short and without the
   * API server's error text: /readyz answers anyone, certificate or not.
   */
  notReady(): string | undefined {
    return this.config ? undefined : this.problem.public;
  }

  /** The full reason, API server error included: for the log only (it is logged at each failed read). */
  notReadyDetail(): string | undefined {
    return this.config ? undefined : this.problem.detail;
  }

  /** Reads once now, then keeps reading on the timer. Never rejects. */
  async start(): Promise<void> {
    await this.refresh();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const ms = this.config ? (this.opts.intervalMs ?? 30_000) : (this.opts.retryMs ?? 2_000);
    this.timer = setTimeout(() => void this.refresh().then(() => this.schedule()), ms);
    this.timer.unref();
  }

  /** Reads the ConfigMap now; a failure is logged and leaves the settings as they were. */
  async refresh(): Promise<void> {
    let data: Record<string, string>;
    try {
      data = await this.opts.read();
    } catch (err) {
      this.problem = { public: `${CONFIGMAP} cannot be read`, detail: `the requestheader ConfigMap cannot be read: ${err instanceof Error ? err.message : String(err)}` };
      this.opts.log.warn({ err: this.problem.detail, inForce: this.config !== undefined }, 'requestheader settings not read');
      return;
    }
    const text = JSON.stringify(data);
    if (text === this.lastData) return;
    try {
      const next = requestHeaderConfig(data);
      const first = this.config === undefined;
      this.config = next;
      this.lastData = text;
      this.opts.log.info({ allowedNames: next.allowedNames, usernameHeaders: next.usernameHeaders, clientCas: next.clientCas.map((ca) => ca.subject) }, first ? 'requestheader settings loaded' : 'requestheader settings changed');
    } catch (err) {
      this.problem = { public: `${CONFIGMAP} holds unusable front proxy settings`, detail: err instanceof Error ? err.message : String(err) };
      this.opts.log.error({ err: this.problem.detail, inForce: this.config !== undefined }, 'requestheader settings unusable');
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
