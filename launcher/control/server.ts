// The control API over mutual TLS (ADR 0009): what the operator (and, next, the subresource
// server) use to drive a VM. /readyz (the kubelet's probe) and /metrics (Prometheus) are open
// over TLS, because neither presents a client certificate; everything else needs a client
// certificate from the operator's launcher CA. Plain HTTP on the port is refused.

import https from 'node:https';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { VmMetricsReport } from '../../api/contract/control.js';
import type { VmController } from '../runtime/status.js';
import { listenTlsOnly } from './plain-http.js';
import { errorResponse, handleControlRequest, type ControlResponse } from './routes.js';
import { streamEndpoints, type StreamSources } from './streams.js';
import { clientName, loadTls, refuseCall, refuseClient, tlsSignature, type ControlTlsFiles } from './tls.js';
import { handleUpgrade } from './upgrade.js';

/** Largest accepted request body; the API's bodies are a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Options of {@link startControlServer}; `console`, `vnc` and `portForward` are what the streams reach (ADR 0011). */
export interface ControlServerOptions extends StreamSources {
  vmm: VmController;
  port: number;
  /** Default: all interfaces (the pod IP is what the operator dials). */
  host?: string;
  /** The launcher's certificate and key, and the CA of the clients it accepts (PEM files). */
  tls: ControlTlsFiles;
  /** How often the TLS files are checked for a renewed certificate. Default 30 s. */
  tlsReloadMs?: number;
  /**
   * The VM's numbers (launcher/metrics): `render` serves GET /metrics without a client
   * certificate, like /readyz; `report` serves GET /vm-metrics (client certificate). Omitted: 404.
   */
  metrics?: { render(): Promise<{ contentType: string; body: string }>; report?(): Promise<VmMetricsReport> };
  /** Audit lines: each authenticated request with its client, and TLS reloads. Default: dropped. */
  log?: (line: string) => void;
}

/** A listening control server. */
export interface ControlServer {
  /** e.g. `https://127.0.0.1:9500`. */
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
  res.writeHead(response.status, headers).end(body);
}

/** The open endpoints: /readyz (kubelet) and /metrics (Prometheus). True when answered. */
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

async function serve(options: ControlServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://launcher').pathname;
  if (await serveOpen(options, path, req, res)) return;
  const socket = req.socket as TLSSocket;
  const refused = refuseClient(socket) ?? refuseCall(socket, req.method ?? 'GET', path);
  if (refused) return send(res, errorResponse(refused.status, refused.reason, refused.message));
  let body: string;
  try {
    body = await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLarge) return send(res, errorResponse(413, 'BodyTooLarge', `request body exceeds ${MAX_BODY_BYTES} bytes`));
    throw err;
  }
  const response = await handleControlRequest({ vmm: options.vmm, vmMetrics: options.metrics?.report?.bind(options.metrics) }, { method: req.method ?? 'GET', path, body });
  if (req.method !== 'GET') options.log?.(`control: ${req.method} ${path} by ${clientName(socket)}: ${response.status}`);
  send(res, response);
}

/**
 * Re-reads the TLS files when they change (the kubelet swaps a Secret volume's files
 * atomically); a half-written or mismatched pair is retried at the next tick.
 */
function watchTls(server: https.Server, options: ControlServerOptions, loaded: string): () => void {
  let current = loaded;
  const timer = setInterval(() => {
    void (async () => {
      if ((await tlsSignature(options.tls).catch(() => current)) === current) return;
      const next = await loadTls(options.tls);
      server.setSecureContext({ ...next.context });
      current = next.signature;
      options.log?.('control: TLS certificate reloaded');
    })().catch((err: unknown) => options.log?.(`control: TLS files changed but cannot be loaded yet: ${String(err)}`));
  }, options.tlsReloadMs ?? 30_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** Start serving the control API; resolves once listening. */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { context, signature } = await loadTls(options.tls);
  // Ask every client for a certificate but let the handshake succeed without one: the
  // kubelet's HTTPS probe and Prometheus present none, and /readyz and /metrics serve them.
  const tls = https.createServer({ ...context, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
  tls.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    serve(options, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, errorResponse(500, 'InternalError', String(err)));
      else res.destroy();
    });
  });
  const upgrades = { endpoints: streamEndpoints(options), log: options.log };
  tls.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    handleUpgrade(upgrades, req, socket, head).catch(() => socket.destroy());
  });
  const front = await listenTlsOnly(tls, options.port, options.host);
  const stopWatching = watchTls(tls, options, signature);
  return {
    url: front.url,
    port: front.port,
    close: () => {
      stopWatching();
      return front.close();
    },
  };
}
