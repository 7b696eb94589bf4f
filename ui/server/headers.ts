/**
 * Which headers cross the relay. Hop-by-hop headers (RFC 9110 §7.6.1, and any the `Connection`
 * header names) belong to one connection and are never passed on. The browser's cookies (any
 * other page's on this host) never reach the API server, nor the API's `Set-Cookie` the
 * browser. In `local` mode every credential of the browser is dropped (Authorization and the
 * bearer subprotocol, which carry the local session token), so only the kubeconfig's reach the
 * API server; in `cluster` mode they pass as is.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { BEARER_PROTOCOL_PREFIX } from '../../api/contract/subresource.js';

export { BEARER_PROTOCOL_PREFIX };

/** How the server runs (api/contract/ui.ts `uiConfig.mode`). */
export type UiMode = 'local' | 'cluster';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Never sent to the API server: the browser's cookies, and identity headers only a front proxy may set. */
function droppedUpstream(name: string, mode: UiMode): boolean {
  if (name === 'host' || name === 'cookie') return true;
  if (name.startsWith('x-remote-')) return true; // the aggregation layer's identity headers
  return mode === 'local' && name === 'authorization';
}

/** The header names the `Connection` header lists (they are hop-by-hop too). */
export function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  const list = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    list
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

function isHopByHop(name: string, listed: Set<string>): boolean {
  return HOP_BY_HOP.has(name) || listed.has(name);
}

/** The subprotocols a WebSocket offers, in order. */
export function offeredProtocols(headers: IncomingHttpHeaders): string[] {
  const value = headers['sec-websocket-protocol'];
  const list = Array.isArray(value) ? value.join(',') : (value ?? '');
  return list
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** The offered subprotocols without bearer tokens (local mode: the kubeconfig's credentials are used instead). */
export function withoutBearer(protocols: readonly string[]): string[] {
  return protocols.filter((p) => !p.startsWith(BEARER_PROTOCOL_PREFIX));
}

/**
 * The headers sent to the API server for a browser's request: hop-by-hop, cookies and (local
 * mode) credentials dropped, `Host` set to the API server's. A WebSocket upgrade keeps its
 * `Upgrade`/`Connection` pair (they are what the relay forwards) and, in local mode, loses any
 * bearer subprotocol.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders, opts: { mode: UiMode; host: string; upgrade: boolean }): OutgoingHttpHeaders {
  const listed = connectionTokens(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isHopByHop(name, listed) || droppedUpstream(name, opts.mode)) continue;
    out[name] = value;
  }
  out.host = opts.host;
  if (opts.upgrade) {
    out.connection = 'Upgrade';
    out.upgrade = 'websocket';
    const protocols = opts.mode === 'local' ? withoutBearer(offeredProtocols(headers)) : offeredProtocols(headers);
    delete out['sec-websocket-protocol'];
    if (protocols.length) out['sec-websocket-protocol'] = protocols.join(', ');
  }
  return out;
}

/** The API server's answer headers passed to the browser: hop-by-hop and `Set-Cookie` dropped. */
export function downstreamHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionTokens(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isHopByHop(name, listed) || name === 'set-cookie') continue;
    out[name] = value;
  }
  return out;
}

/**
 * The Content-Security-Policy of the app: its own scripts only (no inline script, no eval),
 * connections to its own origin only (the relay, `ws:`/`wss:` of the same origin included),
 * images also from data: and blob: URLs (noVNC's cursor, screenshots); never framed. Inline
 * *styles* are allowed: xterm.js and noVNC set them at run time, and a style cannot run code.
 */
export const APP_CSP = appCsp([]);

/**
 * The app's policy with more origins it may connect to: the OIDC issuer's, whose discovery
 * document and token endpoint the sign-in fetches (pure).
 */
export function appCsp(connect: readonly string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    ["connect-src 'self'", ...connect].join(' '),
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The policy of relayed API answers: a response that is HTML (a service's `proxy` subresource
 * can answer anything) is rendered in a sandbox with no script, so it cannot act from the
 * console's origin, where in local mode the kubeconfig's rights are.
 */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

/** Headers every answer carries, with the policy for its kind (`connect`: more origins the app may fetch from). */
export function securityHeaders(kind: 'app' | 'api', tls: boolean, connect: readonly string[] = []): Record<string, string> {
  return {
    'content-security-policy': kind === 'app' ? appCsp(connect) : API_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    ...(tls ? { 'strict-transport-security': 'max-age=31536000' } : {}),
  };
}
