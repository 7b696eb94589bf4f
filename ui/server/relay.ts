/**
 * Relays `/k8s/...` to the API server. HTTP requests of any method: the body streamed up, the
 * answer streamed down as it comes (a watch flows event by event, and is cut upstream when the
 * browser goes away). WebSocket upgrades: the upgrade request is sent on, and once the API
 * server answers `101` the two connections are joined byte for byte (the relay never parses a
 * frame); any other answer goes back as an HTTP answer. Nothing is added but what
 * {@link Upstream.prepare} gives: in cluster mode, nothing.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import { downstreamHeaders, securityHeaders, upstreamHeaders, type UiMode } from './headers.js';
import type { UiLog } from './log.js';
import { UpstreamError, type Upstream } from './upstream.js';

/** What the relay needs. */
export interface RelayOptions {
  upstream: Upstream;
  mode: UiMode;
  /** Whether the browser talks to us over TLS (adds HSTS). */
  tls: boolean;
  log: UiLog;
}

/** A Kubernetes Status, the shape the app reads every API error in. */
export function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** The relay's own failure (the API server unreachable, the kubeconfig unusable) as a 502 Status. */
function failureMessage(err: Error): string {
  if (err instanceof UpstreamError) return err.message;
  return `the web console cannot reach the API server: ${err.message}`;
}

async function open(path: string, method: string, headers: OutgoingHttpHeaders, opts: RelayOptions): Promise<ClientRequest> {
  const { url } = opts.upstream;
  const prepared: RequestOptions = await opts.upstream.prepare();
  const base = url.pathname.replace(/\/+$/, '');
  const options: RequestOptions = {
    ...prepared,
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port || (url.protocol === 'http:' ? 80 : 443),
    method,
    path: `${base}${path}`,
    // The kubeconfig's headers (Authorization, Impersonate-*) win over anything the browser sent.
    headers: { ...headers, ...(prepared.headers ?? {}) },
  };
  return url.protocol === 'http:' ? httpRequest(options) : httpsRequest(options);
}

function pathOnly(path: string): string {
  return path.split('?')[0]!;
}

/** Relays one HTTP request; `path` is the API path with its query (paths.ts apiPathOf). */
export async function relayHttp(req: IncomingMessage, res: ServerResponse, path: string, opts: RelayOptions): Promise<void> {
  let failed = false;
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    opts.log.warn({ method: req.method, path: pathOnly(path), err: err.message }, 'relay to the API server failed');
    if (res.headersSent) return void res.destroy();
    const body = statusBody(502, 'BadGateway', failureMessage(err));
    res.writeHead(502, { ...securityHeaders('api', opts.tls), 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  };
  let upstream: ClientRequest;
  try {
    upstream = await open(path, req.method ?? 'GET', upstreamHeaders(req.headers, { mode: opts.mode, host: opts.upstream.url.host, upgrade: false }), opts);
  } catch (err) {
    return fail(err as Error);
  }
  // The browser went away (a watch closed, a tab shut): the API request ends with it.
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  upstream.once('response', (answer) => {
    res.writeHead(answer.statusCode ?? 502, { ...downstreamHeaders(answer.headers), ...securityHeaders('api', opts.tls) });
    res.flushHeaders();
    pipeline(answer, res, () => undefined);
  });
  upstream.on('error', fail);
  pipeline(req, upstream, (err) => {
    if (err && !res.headersSent) fail(err);
  });
}

/** A raw HTTP answer on a socket whose upgrade was not accepted; the connection then closes. */
export function rawAnswer(socket: Duplex, answer: { status: number; statusText: string; headers: Record<string, string>; body: string }): void {
  const { status, statusText, headers, body } = answer;
  const lines = [`HTTP/1.1 ${status} ${statusText}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** The head of the API server's `101` as raw lines (its own header spellings), without Set-Cookie. */
export function switchingHead(answer: IncomingMessage): string {
  const lines = [`HTTP/1.1 ${answer.statusCode ?? 101} ${answer.statusMessage ?? 'Switching Protocols'}`];
  const raw = answer.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'set-cookie') lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

const MAX_REFUSAL_BODY = 64 * 1024;

/** The API server refused the upgrade: its status and body (a Status) go back to the browser. */
function relayRefusal(answer: IncomingMessage, socket: Duplex, tls: boolean): void {
  const chunks: Buffer[] = [];
  let size = 0;
  answer.on('data', (chunk: Buffer) => {
    if (size < MAX_REFUSAL_BODY) chunks.push(chunk);
    size += chunk.length;
  });
  answer.once('end', () => {
    const type = String(answer.headers['content-type'] ?? 'text/plain');
    const body = Buffer.concat(chunks).toString('utf8').slice(0, MAX_REFUSAL_BODY);
    rawAnswer(socket, { status: answer.statusCode ?? 502, statusText: answer.statusMessage ?? '', headers: { ...securityHeaders('api', tls), 'content-type': type }, body });
  });
  answer.once('error', () => socket.destroy());
}

/** Joins two upgraded connections both ways; either one ending or failing ends the other. */
function join(a: Duplex, b: Duplex): void {
  for (const s of [a, b]) (s as Duplex & { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  pipeline(a, b, () => a.destroy());
  pipeline(b, a, () => b.destroy());
}

/** An upgrade request as the server's `upgrade` event gives it. */
export interface UpgradeRequest {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
}

/** Relays one WebSocket upgrade byte for byte; `path` as for {@link relayHttp}. */
export async function relayUpgrade({ req, socket, head }: UpgradeRequest, path: string, opts: RelayOptions): Promise<void> {
  socket.on('error', () => socket.destroy());
  let failed = false;
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    opts.log.warn({ path: pathOnly(path), err: err.message }, 'WebSocket relay to the API server failed');
    const headers = { ...securityHeaders('api', opts.tls), 'content-type': 'application/json' };
    if (socket.writable) rawAnswer(socket, { status: 502, statusText: 'Bad Gateway', headers, body: statusBody(502, 'BadGateway', failureMessage(err)) });
  };
  let upstream: ClientRequest;
  try {
    upstream = await open(path, 'GET', upstreamHeaders(req.headers, { mode: opts.mode, host: opts.upstream.url.host, upgrade: true }), opts);
  } catch (err) {
    return fail(err as Error);
  }
  socket.once('close', () => upstream.destroy());
  upstream.once('upgrade', (answer: IncomingMessage, apiSocket: Duplex, apiHead: Buffer) => {
    if (socket.destroyed) return void apiSocket.destroy();
    socket.write(switchingHead(answer));
    if (apiHead.length) socket.write(apiHead);
    if (head.length) apiSocket.write(head);
    join(socket, apiSocket);
  });
  upstream.once('response', (answer) => relayRefusal(answer, socket, opts.tls));
  upstream.on('error', fail);
  upstream.end();
}
