/**
 * Opens a VM's stream subresource (`virtualmachines/console|vnc|portforward`, ADR 0011) as a
 * WebSocket to the API server, authenticated as the kubeconfig's user. Authentication is the
 * Kubernetes client's own (`KubeConfig.applyToHTTPSOptions`): client certificates, bearer
 * tokens, token files, exec credential plugins and auth providers, the cluster's CA,
 * `tls-server-name`, `insecure-skip-tls-verify` and `proxy-url` work as they do for every
 * other request of the CLI. A refusal before the stream opens becomes a
 * {@link StreamRefusedError} naming the fix; an open stream is a {@link WebSocketStream}.
 */
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { RequestOptions } from 'node:https';
import WebSocket from 'ws';
import { describeIssues } from '../../api/contract/control.js';
import { STREAM_PROTOCOL, subresourcePath, subresourceRequest, type SubresourceRequest } from '../../api/contract/subresource.js';
import type { ClusterContext } from './context.js';
import { refusalError, type StreamTarget } from './refusal.js';
import { WebSocketStream } from './ws-stream.js';

export { StreamRefusedError } from './refusal.js';
export { StreamFailedError, WebSocketStream } from './ws-stream.js';

/** Which stream of which VM (the namespace is the context's). */
export type StreamRequest = { name: string } & ({ subresource: 'console' | 'vnc' } | { subresource: 'portforward'; port: number });

/** The stream could not be opened for a reason other than a refusal (network, TLS, protocol). */
export class StreamConnectError extends Error {
  override readonly name = 'StreamConnectError';
}

/** An open stream and the headers of its `101` answer (the console's mode is there). */
export interface OpenStream {
  stream: WebSocketStream;
  headers: IncomingHttpHeaders;
}

/** The largest refusal body read: a Status is a few hundred bytes; a proxy's error page is cut. */
const MAX_REFUSAL_BODY = 64 * 1024;
/** The stream's largest message: QEMU's RFB updates of a full 1080p screen in Raw are ~8 MiB. */
const MAX_PAYLOAD = 64 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** `wss://host/apis/...`: the API server's URL with the WebSocket scheme and the subresource path. */
export function streamUrl(server: string, request: SubresourceRequest): string {
  const url = new URL(server);
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  const base = url.href.replace(/\/+$/, '');
  return `${base}${subresourcePath(request)}`;
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      if (size < MAX_REFUSAL_BODY) chunks.push(chunk);
      size += chunk.length;
    });
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8').slice(0, MAX_REFUSAL_BODY)));
    res.once('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Why the connection failed, with the kubeconfig field that usually fixes it. */
export function connectErrorMessage(server: string, err: Error & { code?: string }): string {
  const code = err.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return `cannot verify the API server ${server}: ${err.message}; check the cluster's certificate-authority(-data) in the kubeconfig`;
  }
  if (/subprotocol/i.test(err.message)) {
    return `the API server at ${server} did not accept the stream protocol ${STREAM_PROTOCOL} (${err.message}): kubevmm's subresource server may be of another version than this CLI`;
  }
  return `cannot reach the API server ${server}: ${err.message}`;
}

/** The TLS material and headers of the kubeconfig's current user and cluster. */
export async function connectOptions(ctx: ClusterContext): Promise<RequestOptions> {
  const options: RequestOptions = {};
  try {
    await ctx.kubeconfig.applyToHTTPSOptions(options);
  } catch (err) {
    // An exec plugin that failed, a certificate file that cannot be read.
    throw new StreamConnectError(`cannot use the kubeconfig's credentials: ${err instanceof Error ? err.message : String(err)}`);
  }
  return options;
}

/** The VM name or namespace cannot be a Kubernetes name; nothing was sent (exit 1). */
export class StreamRequestError extends Error {
  override readonly name = 'StreamRequestError';
}

/**
 * The request checked as the server will check it: a bad name or namespace never becomes a
 * path, nor an ssh option. Throws a StreamRequestError naming the field.
 */
export function checkedRequest(request: StreamRequest, namespace: string): SubresourceRequest {
  const parsed = subresourceRequest.safeParse({ ...request, namespace });
  if (!parsed.success) throw new StreamRequestError(`cannot open ${request.subresource} of "${request.name}" in namespace "${namespace}": ${describeIssues(parsed.error, 'request')}`);
  return parsed.data;
}

/** Opens the stream; rejects with a StreamRefusedError, a StreamConnectError or a StreamRequestError. */
export async function openStream(ctx: ClusterContext, request: StreamRequest): Promise<OpenStream> {
  const full = checkedRequest(request, ctx.namespace);
  const target: StreamTarget = { namespace: ctx.namespace, name: request.name, subresource: request.subresource };
  const options = await connectOptions(ctx);
  const ws = new WebSocket(streamUrl(ctx.server, full), [STREAM_PROTOCOL], {
    ...(options as WebSocket.ClientOptions),
    perMessageDeflate: false,
    followRedirects: false,
    maxPayload: MAX_PAYLOAD,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  });
  return new Promise((resolve, reject) => {
    let headers: IncomingHttpHeaders = {};
    ws.once('upgrade', (res: IncomingMessage) => (headers = res.headers));
    ws.once('unexpected-response', (_req: ClientRequest, res: IncomingMessage) => {
      void readBody(res).then((body) => {
        reject(refusalError(target, res.statusCode ?? 0, body));
        ws.terminate();
      });
    });
    const onError = (err: Error) => reject(new StreamConnectError(connectErrorMessage(ctx.server, err)));
    ws.on('error', onError);
    ws.once('open', () => {
      ws.off('error', onError);
      if (ws.protocol !== STREAM_PROTOCOL) {
        reject(new StreamConnectError(connectErrorMessage(ctx.server, new Error(`the server chose subprotocol "${ws.protocol}"`))));
        ws.on('error', () => undefined).terminate();
        return;
      }
      resolve({ stream: new WebSocketStream(ws), headers });
    });
  });
}
