/**
 * Starts the web console's server (docs/ui.md, ADR 0018): `local` mode for `kubevmm ui` (plain
 * HTTP on a loopback address, a session token, the kubeconfig's credentials) and `cluster`
 * mode for the chart's Deployment (HTTPS, the browser's own credentials, none of its own).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { realpath } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { UI_SESSION_PARAM, type UiConfig } from '../../api/contract/ui.js';
import { uiHandlers } from './handler.js';
import type { UiMode } from './headers.js';
import { silentLog, type UiLog } from './log.js';
import { allowedHosts, newSessionToken } from './session.js';
import { kubeConfigUpstream, type KubeConfigLike, type Upstream } from './upstream.js';

/** A certificate and its key, PEM. */
export interface TlsPair {
  cert: string;
  key: string;
}

/** Options of {@link startUiServer}. */
export interface UiServerOptions {
  mode: UiMode;
  /** The app's bundle (dist/ui), holding index.html. */
  staticDir: string;
  /** The API server and what each request to it carries; or give `kubeConfig`. */
  upstream?: Upstream;
  /** Local mode: the kubeconfig whose current cluster and user every API request uses. */
  kubeConfig?: KubeConfigLike;
  /** Namespace the app opens on. */
  namespace: string;
  /** Local mode: the kubeconfig user's name, shown by the app. */
  user?: string;
  oidc?: UiConfig['oidc'];
  version: string;
  /** 0 (default): a free port. */
  port?: number;
  /** Default 127.0.0.1; local mode takes only loopback addresses. */
  address?: string;
  /** Cluster mode: serve HTTPS with this pair (setTls replaces it). */
  tls?: TlsPair;
  /** Local mode: the session token (default: 32 new random bytes). */
  sessionToken?: string;
  log?: UiLog;
}

/** A running server. */
export interface UiServer {
  /** Where to open the app: in local mode with `?session=<token>`. */
  url: string;
  /** `http(s)://address:port`. */
  origin: string;
  port: number;
  /** Local mode: the session token. */
  sessionToken?: string;
  /** Replaces the serving certificate (cluster mode; a renewed Secret). */
  setTls(pair: TlsPair): void;
  /** Stops listening and cuts every connection, relayed WebSockets included. */
  close(): Promise<void>;
}

/** The options cannot work; the message names the option and the fix. */
export class UiServerError extends Error {
  override readonly name = 'UiServerError';
}

/** Whether an address is loopback (127.0.0.0/8 or ::1). */
export function isLoopback(address: string): boolean {
  return /^127(\.\d{1,3}){3}$/.test(address) || address === '::1';
}

function check(opts: UiServerOptions): void {
  const address = opts.address ?? '127.0.0.1';
  if (opts.mode === 'local' && !isLoopback(address)) {
    throw new UiServerError(`--address ${address}: kubevmm ui serves the kubeconfig's rights, so it listens on a loopback address only (127.0.0.1 or ::1)`);
  }
  if (opts.mode === 'cluster' && opts.kubeConfig) throw new UiServerError('cluster mode holds no credentials: give `upstream` (the API server and its CA), not a kubeConfig');
  if (!opts.upstream && !opts.kubeConfig) throw new UiServerError('give `upstream` or `kubeConfig`: where the API server is');
}

function listen(server: Server | HttpsServer, port: number, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: Error & { code?: string }) => {
      const why = err.code === 'EADDRINUSE' ? `port ${port} of ${address} is already in use: choose another one with --port (0: any free port)` : `cannot listen on ${address}:${port}: ${err.message}`;
      reject(new UiServerError(why));
    });
    server.listen(port, address, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Starts the server; resolves once it listens. */
export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  check(opts);
  const address = opts.address ?? '127.0.0.1';
  const staticDir = await realpath(opts.staticDir).catch(() => {
    throw new UiServerError(`the app's files are not at ${opts.staticDir}`);
  });
  const upstream = opts.upstream ?? kubeConfigUpstream(opts.kubeConfig!);
  const tls = opts.mode === 'cluster' && opts.tls !== undefined;
  const server = tls ? createHttpsServer({ cert: opts.tls!.cert, key: opts.tls!.key }) : createHttpServer();
  // Watches and streams are long: no request timeout cuts them (the API server ends a watch).
  server.requestTimeout = 0;
  const token = opts.mode === 'local' ? (opts.sessionToken ?? newSessionToken()) : undefined;
  const host = address.includes(':') ? `[${address}]` : address;
  const upgraded = new Set<Duplex>();
  let port = 0;
  const handlers = (): ReturnType<typeof uiHandlers> =>
    uiHandlers({
      mode: opts.mode,
      staticDir,
      config: { mode: opts.mode, namespace: opts.namespace, version: opts.version, ...(opts.user ? { user: opts.user } : {}), ...(opts.oidc ? { oidc: opts.oidc } : {}) },
      upstream,
      tls,
      log: opts.log ?? silentLog,
      ...(token ? { session: { token, hosts: allowedHosts(address, port) } } : {}),
    });
  // The config is checked before listening; the session's Host values need the port, known after.
  handlers();
  port = await listen(server, opts.port ?? 0, address);
  const h = handlers();
  server.on('request', h.request);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    h.upgrade(req, socket, head);
  });
  const origin = `${tls ? 'https' : 'http'}://${host}:${port}`;
  return {
    url: token ? `${origin}/?${UI_SESSION_PARAM}=${token}` : `${origin}/`,
    origin,
    port,
    ...(token ? { sessionToken: token } : {}),
    setTls(pair) {
      if (!tls) throw new UiServerError('this server does not serve HTTPS');
      (server as HttpsServer).setSecureContext({ cert: pair.cert, key: pair.key });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      });
    },
  };
}
