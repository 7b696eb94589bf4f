// A bare client of the subresource API for tests and benchmarks: HTTPS GETs and WebSockets
// with whatever certificate, identity headers and subprotocols a case needs (the front proxy's,
// a forger's, a browser's bearer token), reporting refusals as their status and body instead of
// failing, so a test can read the Status a user would.
import { request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { WebSocket } from 'ws';
import { STREAM_PROTOCOL } from '../api/contract/subresource.js';

/** How the client presents itself. */
export interface SubresourceClient {
  /** CA of the server's certificate. */
  ca?: string;
  /** Client certificate and key (PEM). */
  cert?: string;
  key?: string;
  servername?: string;
  headers?: Record<string, string | string[]>;
}

/** An answer: the status, the headers and the body. */
export interface Answered {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A WebSocket that opened (status 101), or the refusal. */
export interface Opened extends Answered {
  ws?: WebSocket;
}

function tls(client: SubresourceClient) {
  return { ...(client.ca ? { ca: client.ca } : {}), ...(client.cert ? { cert: client.cert, key: client.key } : {}), ...(client.servername ? { servername: client.servername } : {}) };
}

/** GETs `url`. */
export function httpsGet(url: string, client: SubresourceClient = {}): Promise<Answered> {
  return httpsSend(url, client);
}

/** Sends `method` (default GET) with `body` and extra `headers` to `url`. */
export function httpsSend(url: string, client: SubresourceClient = {}, opts: { method?: string; body?: Buffer; headers?: Record<string, string> } = {}): Promise<Answered> {
  return new Promise((resolve, reject) => {
    const headers = { ...(client.headers ?? {}), ...(opts.headers ?? {}), ...(opts.body ? { 'content-length': String(opts.body.length) } : {}) };
    const req = request(url, { ...tls(client), method: opts.method ?? 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Opens a WebSocket on `url` (wss://) offering `protocols`. */
export function openStream(url: string, client: SubresourceClient = {}, protocols: string[] = [STREAM_PROTOCOL]): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { ...tls(client), headers: client.headers ?? {} });
    ws.on('upgrade', (res) => ws.once('open', () => resolve({ ws, status: 101, headers: res.headers, body: '' })));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.on('error', reject);
  });
}

/** Collects what arrives on `ws` until `want` was seen; rejects after `ms`. */
export function readUntil(ws: WebSocket, want: string, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      ws.off('message', onMessage);
      reject(new Error(`timed out waiting for ${JSON.stringify(want)}; saw ${JSON.stringify(seen)}`));
    }, ms);
    const onMessage = (data: Buffer, binary: boolean) => {
      if (!binary) return;
      seen += data.toString();
      if (!seen.includes(want)) return;
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve(seen);
    };
    ws.on('message', onMessage);
  });
}

/** Closes `ws` and resolves with the close code. */
export function closeStream(ws: WebSocket, code = 1000): Promise<number> {
  return new Promise((resolve) => {
    ws.once('close', (c: number) => resolve(c));
    ws.close(code);
  });
}
