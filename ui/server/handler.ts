/**
 * The web console's request routing: in local mode every request passes the session gate
 * first (session.ts: the Host always, the session token for the API and the configuration);
 * then `GET /config.json` answers the app's configuration, `/k8s/...` is relayed to the API
 * server (relay.ts), and everything else is a static file (static.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { UI_PATHS, uiConfig, type UiConfig } from '../../api/contract/ui.js';
import { securityHeaders, type UiMode } from './headers.js';
import type { UiLog } from './log.js';
import { apiPathOf, splitTarget } from './paths.js';
import { rawAnswer, relayHttp, relayUpgrade, statusBody } from './relay.js';
import { localGate, type GateDecision } from './session.js';
import { plainAnswer, serveStatic } from './static.js';
import type { Upstream } from './upstream.js';

/** What the handlers need. */
export interface UiHandlerOptions {
  mode: UiMode;
  /** The app's files, as a real path. */
  staticDir: string;
  config: UiConfig;
  upstream: Upstream;
  tls: boolean;
  log: UiLog;
  /** Local mode: the session token and the Host values answered. */
  session?: { token: string; hosts: ReadonlySet<string> };
}

/** The request and upgrade listeners of an HTTP(S) server. */
export interface UiHandlers {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** The API and the app's configuration: what only the local session may have, answered as JSON. */
function guardedPath(target: string): boolean {
  return apiPathOf(target) !== undefined || splitTarget(target).path === UI_PATHS.config;
}

function refuse(req: IncomingMessage, res: ServerResponse, decision: Extract<GateDecision, { action: 'refuse' }>, tls: boolean): void {
  const api = guardedPath(req.url ?? '/');
  const body = api ? statusBody(decision.status, decision.status === 401 ? 'Unauthorized' : 'Forbidden', decision.why) : `${decision.why}\n`;
  res.writeHead(decision.status, {
    ...securityHeaders(api ? 'api' : 'app', tls),
    'content-type': api ? 'application/json' : 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Builds the handlers; throws when the configuration is not a valid `uiConfig`. */
export function uiHandlers(opts: UiHandlerOptions): UiHandlers {
  const configJson = JSON.stringify(uiConfig.parse(opts.config));
  // The sign-in with an identity provider fetches its discovery document and token endpoint.
  const oidcOrigins = opts.config.oidc ? [new URL(opts.config.oidc.issuerUrl).origin] : [];
  const relay = { upstream: opts.upstream, mode: opts.mode, tls: opts.tls, log: opts.log };
  const gate = (req: IncomingMessage, upgrade: boolean): GateDecision =>
    opts.session ? localGate({ method: req.method ?? 'GET', headers: req.headers, upgrade, guarded: guardedPath(req.url ?? '/') }, opts.session) : { action: 'pass' };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const decision = gate(req, false);
    if (decision.action === 'refuse') return refuse(req, res, decision, opts.tls);
    const target = req.url ?? '/';
    const api = apiPathOf(target);
    if (api && !api.ok) {
      const body = statusBody(400, 'BadRequest', api.reason);
      res.writeHead(400, { ...securityHeaders('api', opts.tls), 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    if (api) return relayHttp(req, res, api.path, relay);
    if (splitTarget(target).path === UI_PATHS.config) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return plainAnswer(res, 405, 'only GET is served here\n', opts.tls);
      res.writeHead(200, { ...securityHeaders('app', opts.tls), 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(configJson) });
      return void res.end(req.method === 'HEAD' ? undefined : configJson);
    }
    return serveStatic(req, res, { root: opts.staticDir, tls: opts.tls, connect: oidcOrigins });
  };

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const decision = gate(req, true);
    const tls = opts.tls;
    if (decision.action === 'refuse') {
      const reason = decision.status === 401 ? 'Unauthorized' : 'Forbidden';
      return rawAnswer(socket, { status: decision.status, statusText: reason, headers: { ...securityHeaders('api', tls), 'content-type': 'application/json' }, body: statusBody(decision.status, reason, decision.why) });
    }
    const api = apiPathOf(req.url ?? '/');
    if (!api) return rawAnswer(socket, { status: 404, statusText: 'Not Found', headers: securityHeaders('app', tls), body: 'only /k8s/... takes WebSocket upgrades\n' });
    if (!api.ok) return rawAnswer(socket, { status: 400, statusText: 'Bad Request', headers: { ...securityHeaders('api', tls), 'content-type': 'application/json' }, body: statusBody(400, 'BadRequest', api.reason) });
    return relayUpgrade({ req, socket, head }, api.path, relay);
  };

  return {
    request: (req, res) => {
      route(req, res).catch((err: unknown) => {
        opts.log.warn({ err: String(err) }, 'request failed');
        if (!res.headersSent) plainAnswer(res, 500, 'internal error\n', opts.tls);
        else res.destroy();
      });
    },
    upgrade: (req, socket, head) => {
      upgrade(req, socket, head).catch((err: unknown) => {
        opts.log.warn({ err: String(err) }, 'upgrade failed');
        socket.destroy();
      });
    },
  };
}
