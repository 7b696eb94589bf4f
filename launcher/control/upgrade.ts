// The streams of the control API (ADR 0011): `GET /console`, `/vnc` and `/portforward` with
// `Connection: Upgrade` and the stream's own `Upgrade` token (STREAM_UPGRADES). One path for
// all three: the client certificate rule of every endpoint, the request checks, refusals as
// the API's JSON errors (then the connection closes), `101 Switching Protocols` when the stream
// opens, and the audit line naming the client. What each stream attaches to is its endpoint's
// business (console.ts, streams.ts).

import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { STREAM_UPGRADES } from '../../api/contract/control.js';
import { rawJsonAnswer } from './plain-http.js';
import { errorResponse, toErrorResponse, type ControlResponse } from './routes.js';
import { clientName, refuseCall, refuseClient } from './tls.js';

/** A stream path without its slash: `console`, `vnc`, `portforward`. */
export type StreamName = keyof typeof STREAM_UPGRADES extends `/${infer N}` ? N : never;

/** An upgrade request that names a stream the right way. */
export interface StreamTarget {
  stream: StreamName;
  /** The stream's `Upgrade` token, echoed in the 101. */
  upgrade: string;
  query: URLSearchParams;
}

/** An accepted upgrade request, handed to its stream's endpoint. */
export interface StreamRequest {
  /** The client's connection; the endpoint attaches it to the stream. */
  socket: Duplex;
  query: URLSearchParams;
  /** Aborted when the client goes away before the stream opened. */
  signal: AbortSignal;
  /** Writes `101 Switching Protocols` (with extra header lines); once, before the stream's first byte. */
  switchProtocols(headers?: Readonly<Record<string, string>>): void;
}

/**
 * Opens one stream: resolves once attached (with a detail for the audit line) or throws; a
 * thrown error becomes the answer (typed launcher errors keep their reason and status).
 */
export type StreamEndpoint = (request: StreamRequest) => Promise<{ detail?: string }>;

const PATHS = Object.keys(STREAM_UPGRADES).join(', ');

/** Checks method, path and `Upgrade` header of a request; the stream, or the answer that refuses it. */
export function parseUpgrade(req: { method?: string; url?: string; upgrade?: string }): { target: StreamTarget } | { refusal: ControlResponse } {
  const url = new URL(req.url ?? '/', 'https://launcher');
  const path = url.pathname;
  if (!Object.hasOwn(STREAM_UPGRADES, path)) return { refusal: errorResponse(404, 'NotFound', `no stream on ${path}; the streams are GET ${PATHS}`) };
  const upgrade = STREAM_UPGRADES[path as keyof typeof STREAM_UPGRADES];
  if (req.method !== 'GET') return { refusal: errorResponse(405, 'MethodNotAllowed', `${req.method ?? '?'} ${path}: a stream is opened with GET`) };
  const offered = (req.upgrade ?? '').split(',').map((p) => p.trim().toLowerCase());
  if (!offered.includes(upgrade)) return { refusal: errorResponse(400, 'InvalidRequest', `GET ${path} upgrades to "${upgrade}" only (Upgrade: ${req.upgrade ?? ''})`) };
  return { target: { stream: path.slice(1) as StreamName, upgrade, query: url.searchParams } };
}

/** The head of a `101 Switching Protocols` answer to `upgrade`, with extra headers. */
export function switchingProtocols(upgrade: string, headers: Readonly<Record<string, string>> = {}): string {
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return [`HTTP/1.1 101 Switching Protocols`, 'connection: Upgrade', `upgrade: ${upgrade}`, ...extra, '', ''].join('\r\n');
}

/** Answers an upgrade request with an error and closes the connection. */
function refuseUpgrade(socket: Duplex, response: ControlResponse): void {
  if (!socket.destroyed) socket.end(rawJsonAnswer(response.status, response.body, ['cache-control: no-store']));
}

/** What the upgrade path needs. */
export interface UpgradeOptions {
  endpoints: Readonly<Record<StreamName, StreamEndpoint>>;
  log?: (line: string) => void;
}

/** Handles an HTTP upgrade request on the control port. */
export async function handleUpgrade(options: UpgradeOptions, req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  socket.on('error', () => socket.destroy());
  const tls = socket as TLSSocket;
  const refused = refuseClient(tls) ?? refuseCall(tls, req.method ?? 'GET', new URL(req.url ?? '/', 'https://launcher').pathname);
  if (refused) return refuseUpgrade(socket, errorResponse(refused.status, refused.reason, refused.message));
  const parsed = parseUpgrade({ method: req.method, url: req.url, upgrade: req.headers.upgrade });
  if ('refusal' in parsed) return refuseUpgrade(socket, parsed.refusal);
  const { stream, upgrade, query } = parsed.target;
  if (head.length) socket.unshift(head); // bytes sent before the answer arrived belong to the stream
  const gone = new AbortController();
  const onClose = (): void => gone.abort(new Error(`the client closed the connection before the ${stream} stream opened`));
  socket.once('close', onClose);
  let detail: string | undefined;
  try {
    ({ detail } = await options.endpoints[stream]({ socket, query, signal: gone.signal, switchProtocols: (headers) => void socket.write(switchingProtocols(upgrade, headers)) }));
  } catch (err) {
    return refuseUpgrade(socket, toErrorResponse(err));
  } finally {
    socket.removeListener('close', onClose);
  }
  const client = clientName(tls);
  options.log?.(`control: ${stream} attached by ${client}${detail ? ` (${detail})` : ''}`);
  if (socket.destroyed) return options.log?.(`control: ${stream} detached by ${client}`);
  socket.once('close', () => options.log?.(`control: ${stream} detached by ${client}`));
}
