/**
 * The local session of `kubevmm ui` (ADR 0018): a random 32-byte token printed once in the
 * address, traded on first use for an HttpOnly SameSite=Strict cookie. Whoever lacks it (another
 * local user, any web page) gets nothing; a foreign `Host` (DNS rebinding) and a foreign
 * `Origin` on a state-changing request or a WebSocket (CSRF, cross-site WebSocket hijacking)
 * are refused even with it. Tokens are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { UI_SESSION_COOKIE, UI_SESSION_PARAM } from '../../api/contract/ui.js';

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

/** The value of the named cookie in a Cookie header, if any. */
export function cookieValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  for (const part of (headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** The `Set-Cookie` header carrying the session: never readable by the page, never sent cross-site. */
export function sessionCookie(token: string): string {
  return `${UI_SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
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
 * from no page (curl) and still needs the cookie.
 */
export function originAllowed(headers: IncomingHttpHeaders, hosts: ReadonlySet<string>): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  const match = /^http:\/\/([^/]+)$/.exec(origin.toLowerCase());
  return match !== null && hosts.has(match[1]!);
}

/** The target without the session parameter (where the session URL redirects to once the cookie is set). */
export function withoutSessionParam(target: string): string {
  const url = new URL(target, 'http://x');
  url.searchParams.delete(UI_SESSION_PARAM);
  return `${url.pathname}${url.search}`;
}

/** The session parameter of a request target, if it has one. */
export function sessionParam(target: string): string | undefined {
  const at = target.indexOf('?');
  if (at < 0) return undefined;
  return new URLSearchParams(target.slice(at + 1)).get(UI_SESSION_PARAM) ?? undefined;
}

/** What the local gate decides for one request. */
export type GateDecision =
  | { action: 'pass' }
  | { action: 'set-cookie'; location: string }
  | { action: 'refuse'; status: 401 | 403; why: string };

/** The local gate's inputs. */
export interface GateRequest {
  method: string;
  target: string;
  headers: IncomingHttpHeaders;
  upgrade: boolean;
}

/** The local mode's checks, in order: Host, the session (parameter or cookie), Origin of writes and upgrades. */
export function localGate(req: GateRequest, session: { token: string; hosts: ReadonlySet<string> }): GateDecision {
  if (!hostAllowed(req.headers, session.hosts)) {
    return { action: 'refuse', status: 403, why: `this server answers only as ${[...session.hosts].join(' or ')}` };
  }
  const param = sessionParam(req.target);
  if (param !== undefined && !req.upgrade && req.method === 'GET') {
    if (sameToken(param, session.token)) return { action: 'set-cookie', location: withoutSessionParam(req.target) };
    return { action: 'refuse', status: 401, why: 'the session token in the address is not this server’s' };
  }
  if (!sameToken(cookieValue(req.headers, UI_SESSION_COOKIE), session.token)) {
    return { action: 'refuse', status: 401, why: 'no session: open the address `kubevmm ui` printed' };
  }
  const writes = req.upgrade || !['GET', 'HEAD'].includes(req.method);
  if (writes && !originAllowed(req.headers, session.hosts)) {
    return { action: 'refuse', status: 403, why: 'a request from another origin is refused' };
  }
  return { action: 'pass' };
}
