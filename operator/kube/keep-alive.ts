/**
 * Keep-alive connections for every API call a KubeConfig makes.
 *
 * client-node (1.4, and 2.x and kubernetes-fluent-client alike) builds a new https.Agent in
 * `applySecurityAuthentication` for every request, so every call opens a TCP connection and
 * does a TLS handshake with client-certificate authentication: ~11 ms of client CPU and
 * ~4 ms of API-server CPU per call, against ~1 ms and ~2 ms on a reused connection
 * (bench/README.md, "Cost of one API call"). `useKeepAlive` wraps that method on one
 * KubeConfig: it still runs the original (tokens from exec plugins and token files are
 * refreshed, headers set), then swaps the throw-away agent for one kept-alive agent per
 * distinct TLS identity. Certificates that change (a rotated client certificate) get a new
 * agent; the old one is closed.
 */
import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** Options of the shared agents. */
export interface KeepAliveOptions {
  /**
   * An idle connection is closed after this long. Below the API server's own idle timeout
   * (90 s), so the client never sends on a connection the server is closing.
   */
  idleMs?: number;
  /** Connections kept open while idle (per host). */
  maxFreeSockets?: number;
}

/** The agent options that decide which connection a request may reuse. */
const IDENTITY_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

type RequestContextLike = { getAgent(): unknown; setAgent(agent: unknown): void };
type ApplyAuth = (context: RequestContextLike) => Promise<void>;

const WRAPPED = Symbol.for('kubevmm.keepAlive');

/** A stable fingerprint of the TLS identity in `options` (certificates are hashed, not kept twice). */
export function identityOf(options: AgentOptions, protocol: 'http' | 'https'): string {
  const hash = createHash('sha256').update(protocol);
  for (const key of IDENTITY_KEYS) {
    const value = (options as Record<string, unknown>)[key];
    hash.update(`\0${key}=`);
    if (value === undefined) continue;
    for (const part of Array.isArray(value) ? value : [value]) hash.update(Buffer.isBuffer(part) ? part : String(part)).update('\0');
  }
  return hash.digest('hex');
}

/** Keeps one agent per identity; a new identity closes the agents of older ones. */
class AgentPool {
  private current: { id: string; agent: HttpAgent } | undefined;

  constructor(private readonly opts: Required<KeepAliveOptions>) {}

  /** The shared agent for the identity of `fresh`, or undefined when `fresh` is not a plain agent (a proxy agent). */
  shared(fresh: unknown): HttpAgent | undefined {
    const protocol = fresh?.constructor === HttpsAgent ? 'https' : fresh?.constructor === HttpAgent ? 'http' : undefined;
    if (!protocol) return undefined;
    const options = (fresh as HttpAgent & { options: AgentOptions }).options;
    const id = identityOf(options, protocol);
    if (this.current?.id === id) return this.current.agent;
    this.current?.agent.destroy();
    const settings = { ...options, keepAlive: true, timeout: this.opts.idleMs, maxFreeSockets: this.opts.maxFreeSockets, scheduling: 'lifo' as const };
    const agent = protocol === 'https' ? new HttpsAgent(settings) : new HttpAgent(settings);
    this.current = { id, agent };
    return agent;
  }

  destroy(): void {
    this.current?.agent.destroy();
    this.current = undefined;
  }
}

/**
 * Makes every API client built from `kc` (makeApiClient) reuse kept-alive connections.
 * Idempotent. Returns a function that closes the shared connections (for tests and shutdown).
 */
export function useKeepAlive(kc: KubeConfig, options: KeepAliveOptions = {}): () => void {
  const target = kc as unknown as { applySecurityAuthentication: ApplyAuth; [WRAPPED]?: AgentPool };
  const existing = target[WRAPPED];
  if (existing) return () => existing.destroy();
  const pool = new AgentPool({ idleMs: options.idleMs ?? 60_000, maxFreeSockets: options.maxFreeSockets ?? 16 });
  const original = target.applySecurityAuthentication.bind(kc);
  target.applySecurityAuthentication = async (context) => {
    await original(context);
    const agent = pool.shared(context.getAgent());
    if (agent) context.setAgent(agent);
  };
  target[WRAPPED] = pool;
  return () => pool.destroy();
}
