// The control API over HTTP(S): what the operator (and `kubevmm play`) use to drive a VM.
// Only /readyz is open, for the kubelet's readiness probe, and it says nothing but yes/no;
// everything else needs the bearer token.

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { VmController } from '../runtime/status.js';
import { TokenFile, bearerToken, tokensMatch } from './auth.js';
import { errorResponse, handleControlRequest, type ControlResponse } from './routes.js';

/** Largest accepted request body; the API's bodies are a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Options of {@link startControlServer}. */
export interface ControlServerOptions {
  vmm: VmController;
  tokenFile: string;
  port: number;
  /** Default: all interfaces (the pod IP is what the operator dials). */
  host?: string;
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** Serves GET /metrics without a token, like /readyz (launcher/metrics); omitted: 404. */
  metrics?: { render(): Promise<{ contentType: string; body: string }> };
}

/** A listening control server. */
export interface ControlServer {
  /** e.g. `http://127.0.0.1:9500`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Ready means the guest runs: a paused, starting or stopping VM takes no traffic. */
export function isReady(vmm: Pick<VmController, 'status'>): boolean {
  return vmm.status().state === 'running';
}

class BodyTooLarge extends Error {}

/** The body as text; a body over the limit is drained (so the 413 can be delivered) and rejected. */
function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => (size > MAX_BODY_BYTES ? reject(new BodyTooLarge()) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, response: ControlResponse): void {
  const body = `${JSON.stringify(response.body)}\n`;
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (response.status === 401) headers['www-authenticate'] = 'Bearer realm="kubevmm-launcher"';
  res.writeHead(response.status, headers).end(body);
}

async function authorized(tokens: TokenFile, header: string | undefined): Promise<ControlResponse | undefined> {
  const given = bearerToken(header);
  if (!given) return errorResponse(401, 'Unauthorized', 'missing bearer token');
  let expected: string;
  try {
    expected = await tokens.token();
  } catch {
    // Fail closed: no token file means nobody gets in, and the reason says why.
    return errorResponse(503, 'TokenUnavailable', 'the launcher cannot read its control token');
  }
  return tokensMatch(given, expected) ? undefined : errorResponse(401, 'Unauthorized', 'invalid bearer token');
}

/** The endpoints that need no token: /readyz (kubelet) and /metrics (Prometheus). True when answered. */
async function serveOpen(options: ControlServerOptions, path: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (path === '/readyz') {
    const ready = isReady(options.vmm);
    res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ok\n' : 'not ready\n');
    return true;
  }
  if (path !== '/metrics' || !options.metrics) return false;
  const { contentType, body } = await options.metrics.render();
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
  return true;
}

async function serve(options: ControlServerOptions, tokens: TokenFile, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://launcher').pathname;
  if (await serveOpen(options, path, req, res)) return;
  const denied = await authorized(tokens, req.headers.authorization);
  if (denied) return send(res, denied);
  let body: string;
  try {
    body = await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLarge) return send(res, errorResponse(413, 'BodyTooLarge', `request body exceeds ${MAX_BODY_BYTES} bytes`));
    throw err;
  }
  send(res, await handleControlRequest(options.vmm, { method: req.method ?? 'GET', path, body }));
}

async function createServer(options: ControlServerOptions): Promise<http.Server> {
  if (!options.tls) return http.createServer();
  const [cert, key] = await Promise.all([readFile(options.tls.certFile), readFile(options.tls.keyFile)]);
  return https.createServer({ cert, key });
}

/** Start serving the control API; resolves once listening. */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const tokens = new TokenFile(options.tokenFile);
  const server = await createServer(options);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    serve(options, tokens, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, errorResponse(500, 'InternalError', String(err)));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host === '[::]' ? '127.0.0.1' : host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
