/**
 * The local session of `kubevmm ui` (ADR 0018, amended 2026-12-06): a random 32-byte token printed once
 * in the address. The app takes it from there into the tab's sessionStorage (scoped to this
 * origin, port included) and sends it on every call as `Authorization: Bearer <token>`, or on a
 * WebSocket as the bearer subprotocol; the server checks it and then drops it for the
 * kubeconfig's credentials. Never a cookie: browsers scope cookies by host, not port, and would
 * hand one to another local user's page on another port of 127.0.0.1.
 *
 * Without it the API and the app's configuration answer 401; the app's own files are served to
 * anyone (they are the published bundle, and a page cannot send a header when it loads them).
 * A foreign `Host` (DNS rebinding) and a foreign `Origin` on a state-changing request or a
 * WebSocket (CSRF, cross-site WebSocket hijacking) are refused even with the token. Tokens are
 * compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BEARER_PROTOCOL_PREFIX } from '../../api/contract/subresource.js';
import { offeredProtocols } from './headers.js';

/** A new session token: 32 random bytes, base64url (43 characters). */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether `given` is the session token; constant time whatever the lengths. */
export function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  // Digests have one length, so neither the comparison nor an early length check tells anything.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** The `Host` values a local server answers to: its address and `localhost`, with its port. */
export function allowedHosts(address: string, port: number): Set<string> {
  const host = address.includes(':') ? `[${address}]` : address;
  return new Set([`${host}:${port}`, `localhost:${port}`]);
}

/** Whether the request's Host is one of ours (a rebinding DNS name is not). */
export function hostAllowed(headers: IncomingHttpHeaders, hosts: ReadonlySet<string>): boolean {
  return headers.host !== undefined && hosts.has(headers.host.toLowerCase());
}

/**
 * Whether the request's Origin, when it sends one, is ours (`http://` + an allowed host). A
 * browser sends Origin on every cross-origin write and WebSocket; a request without one comes
 * from no page (curl) and still needs the session token.
 */
export function originAllowed(headers: IncomingHttpHeaders, hosts: ReadonlySet<string>): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  const match = /^http:\/\/([^/]+)$/.exec(origin.toLowerCase());
  return match !== null && hosts.has(match[1]!);
}

/** What the local gate decides for one request. */
export type GateDecision = { action: 'pass' } | { action: 'refuse'; status: 401 | 403; why: string };

/** The local gate's inputs. */
export interface GateRequest {
  method: string;
  headers: IncomingHttpHeaders;
  upgrade: boolean;
  /** The API or the app's configuration: what only the session may have. */
  guarded: boolean;
}

/**
 * The session token a request carries: `Authorization: Bearer <token>`, or on a WebSocket
 * upgrade the bearer subprotocol (base64url of the token), which is all a browser can set there.
 */
export function presentedToken(headers: IncomingHttpHeaders, upgrade: boolean): string | undefined {
  const bearer = /^Bearer ([A-Za-z0-9_-]+)$/.exec(headers.authorization ?? '');
  if (bearer) return bearer[1];
  if (!upgrade) return undefined;
  const offered = offeredProtocols(headers).find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
  return offered === undefined ? undefined : Buffer.from(offered.slice(BEARER_PROTOCOL_PREFIX.length), 'base64url').toString('utf8');
}

/** The local mode's checks, in order: Host, the session token (API, configuration, WebSockets), Origin of writes and upgrades. */
export function localGate(req: GateRequest, session: { token: string; hosts: ReadonlySet<string> }): GateDecision {
  if (!hostAllowed(req.headers, session.hosts)) {
    return { action: 'refuse', status: 403, why: `this server answers only as ${[...session.hosts].join(' or ')}` };
  }
  if ((req.guarded || req.upgrade) && !sameToken(presentedToken(req.headers, req.upgrade), session.token)) {
    return { action: 'refuse', status: 401, why: 'no session: open the address `kubevmm ui` printed' };
  }
  const writes = req.upgrade || !['GET', 'HEAD'].includes(req.method);
  if (writes && !originAllowed(req.headers, session.hosts)) {
    return { action: 'refuse', status: 403, why: 'a request from another origin is refused' };
  }
  return { action: 'pass' };
}
