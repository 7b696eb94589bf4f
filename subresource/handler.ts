/**
 * Every request, ordinary or upgrade: the probes answer anyone; anything else is first
 * authenticated as the API server's front proxy (401 otherwise, whatever headers it carries),
 * then routed: discovery documents, 404s, or a subresource, which is admitted (admit.ts) and
 * served: metrics as one JSON object, streams through stream.ts; an image upload is admitted by
 * upload-admit.ts and relayed by upload-relay.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { failureStatus, isImagePath, SUBRESOURCE_GROUP, SUBRESOURCE_VERSION, type VmMetricsObject } from '../api/contract/subresource.js';
import { admitSubresource, authenticate, type Admitted, type AdmitDeps, type IncomingFacts } from './admit.js';
import { sendStatus, type Answer } from './answer.js';
import { launcherFailureStatus, LauncherError } from './launcher-errors.js';
import type { LauncherConnector } from './launcher-dial.js';
import type { SubresourceLog } from './log.js';
import { routeOf } from './routes.js';
import { serveStream, type StreamDeps } from './stream.js';
import { admitUpload, imageStatus } from './upload-admit.js';
import type { ImporterRelay } from './upload-relay.js';

/** What the handler needs. */
export interface HandlerDeps extends AdmitDeps, StreamDeps {
  launcher: LauncherConnector;
  /** Sends `virtualmachineimages/upload` on to importers. */
  importer: Pick<ImporterRelay, 'relay'>;
  log: SubresourceLog;
  /** Why the server is not ready (empty: ready), for /readyz. */
  notReady: () => string[];
}

/** One request, and how to answer it. */
export interface Incoming {
  req: IncomingMessage;
  answer: Answer;
  /** The response of an ordinary request (an upload streams the importer's answer into it). */
  res?: ServerResponse;
  /** Present for an upgrade request: the bare socket and the bytes after the request. */
  upgrade?: { socket: Duplex; head: Buffer };
}

/** The DER of the certificate the TLS peer presented; undefined when it presented none. */
export function peerCertificate(req: IncomingMessage): Buffer | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  return socket.getPeerX509Certificate?.()?.raw;
}

function probe(deps: HandlerDeps, which: 'healthz' | 'readyz', answer: Answer): void {
  const problems = which === 'readyz' ? deps.notReady() : [];
  answer.send(problems.length ? 503 : 200, problems.length ? `not ready: ${problems.join('; ')}\n` : 'ok\n', 'text/plain');
}

async function serveMetrics(deps: HandlerDeps, admitted: Admitted, answer: Answer): Promise<void> {
  const { request, target, identity } = admitted;
  try {
    const report = await deps.launcher.vmMetrics(target);
    const object: VmMetricsObject = { kind: 'VirtualMachineMetrics', apiVersion: `${SUBRESOURCE_GROUP}/${SUBRESOURCE_VERSION}`, metadata: { name: request.name, namespace: request.namespace }, ...report };
    answer.send(200, object);
  } catch (err) {
    const status = launcherFailureStatus(err, request);
    deps.log.warn({ user: identity.user, subresource: 'metrics', namespace: request.namespace, name: request.name, code: status.code, reason: err instanceof LauncherError ? err.reason : 'Error', err: err instanceof Error ? err.message : String(err) }, 'metrics refused at the launcher');
    sendStatus(answer, status);
  }
}

/** `virtualmachineimages/NAME/upload`: admitted (upload-admit.ts), then relayed to the importer. */
async function serveUpload(deps: HandlerDeps, identity: Admitted['identity'], incoming: Incoming): Promise<void> {
  const { req, answer, res } = incoming;
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  if (!res) return sendStatus(answer, imageStatus('BadRequest', 'virtualmachineimages/upload is no WebSocket: send HEAD and PUT requests'));
  const admitted = await admitUpload(deps.cluster, identity, { method, url });
  if (!admitted.ok) {
    deps.log[admitted.status.code >= 500 ? 'warn' : 'info']({ user: identity.user, method, path: url.split('?')[0], code: admitted.status.code, why: admitted.log }, 'upload refused');
    return sendStatus(answer, admitted.status);
  }
  const { request } = admitted;
  const outcome = await deps.importer.relay(request, admitted.target, req, res);
  const fields = { user: identity.user, method, namespace: request.namespace, image: request.name, code: outcome.code, bytes: outcome.bytes, ...(outcome.error ? { err: outcome.error } : {}) };
  deps.log[outcome.error ? 'warn' : 'info'](fields, outcome.error ? 'upload relay failed' : 'upload relayed');
}

/** Answers one request; never rejects (a failure is a 500 Status). */
export async function handle(deps: HandlerDeps, incoming: Incoming): Promise<void> {
  const { req, answer } = incoming;
  try {
    await dispatch(deps, incoming);
  } catch (err) {
    deps.log.error({ method: req.method, url: req.url, err: err instanceof Error ? err.stack : String(err) }, 'request failed');
    sendStatus(answer, failureStatus('InternalError', `the subresource server failed: ${err instanceof Error ? err.message : String(err)}`));
  }
}

async function dispatch(deps: HandlerDeps, incoming: Incoming): Promise<void> {
  const { req, answer } = incoming;
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  // The path as sent, never normalised (no `..` resolution): what the API server authorized.
  const route = routeOf(method, url.split('?')[0]!);
  if (route.kind === 'probe') return probe(deps, route.probe, answer);
  const facts: IncomingFacts = { method, url, headers: req.headersDistinct, peerCertificate: peerCertificate(req) };
  const who = authenticate(deps, facts);
  if (!who.ok) {
    deps.log.warn({ remote: req.socket.remoteAddress, method, path: url.split('?')[0], reason: who.log }, 'request refused: not from the front proxy');
    return sendStatus(answer, who.status);
  }
  if (route.kind === 'document') return answer.send(200, route.body);
  if (route.kind === 'refused') return sendStatus(answer, failureStatus(route.code === 404 ? 'NotFound' : 'MethodNotAllowed', route.message));
  if (isImagePath(url)) return serveUpload(deps, who.identity, incoming);
  const admitted = await admitSubresource(deps, who.identity, facts);
  if (!admitted.ok) {
    const level = admitted.status.code >= 500 ? 'warn' : 'info';
    deps.log[level]({ user: who.identity.user, method, path: url.split('?')[0], code: admitted.status.code, why: admitted.log }, 'subresource refused');
    return sendStatus(answer, admitted.status);
  }
  if (admitted.request.subresource === 'metrics') return serveMetrics(deps, admitted, answer);
  if (!incoming.upgrade) {
    return sendStatus(answer, failureStatus('BadRequest', 'the WebSocket handshake needs Connection: Upgrade beside Upgrade: websocket', { name: admitted.request.name }));
  }
  await serveStream(deps, admitted, { req, ...incoming.upgrade });
}
