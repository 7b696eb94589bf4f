/**
 * An admitted stream request, from the launcher's upgrade to the end of the session. The
 * client's WebSocket is accepted only once the launcher answered 101: before that every
 * failure is still an HTTP answer with a Status the client can print. The console's mode
 * (`kubevmm-console-mode`: interactive or read-only) travels on to the client in the 101, so
 * the CLI can say that it is a mirror without parsing the notice on screen.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONSOLE_MODE_HEADER } from '../api/contract/control.js';
import { selectStreamProtocol, type SubresourceRequest } from '../api/contract/subresource.js';
import { MAX_STREAM_MESSAGE_BYTES } from '../api/contract/stream-message.js';
import type { Admitted } from './admit.js';
import { sendStatus, socketAnswer } from './answer.js';
import { bridge, type BridgeOptions } from './bridge.js';
import { launcherFailureStatus, LauncherError } from './launcher-errors.js';
import type { LauncherConnector, StreamTarget } from './launcher-dial.js';
import type { SubresourceLog } from './log.js';
import type { StreamLimits } from './stream-limits.js';

/**
 * Largest message a client may send: keystrokes, RFB client messages, TCP chunks. Each open
 * stream may hold one in memory, so it is kept small; the CLI (cli/cluster/ws-stream.ts) cuts
 * its writes to this size and noVNC sends RFB client messages of a few bytes.
 */
const MAX_CLIENT_MESSAGE_BYTES = MAX_STREAM_MESSAGE_BYTES;

/** Accepts WebSockets on sockets the HTTPS server hands over; 101 headers can be added per request. */
export class StreamAcceptor {
  private readonly wss: WebSocketServer;
  private readonly extraHeaders = new WeakMap<IncomingMessage, string[]>();

  constructor() {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false, // the bytes are terminal output, RFB encodings or TCP: compression only costs CPU
      maxPayload: MAX_CLIENT_MESSAGE_BYTES,
      // The stream's protocol when offered; never a bearer token's, whatever else was offered.
      handleProtocols: (offered) => selectStreamProtocol(offered) ?? false,
    });
    this.wss.on('headers', (headers: string[], req: IncomingMessage) => headers.push(...(this.extraHeaders.get(req) ?? [])));
  }

  /** Completes the handshake; undefined when ws refused it (it answered the client itself). */
  accept(upgrade: { req: IncomingMessage; socket: Duplex; head: Buffer }, headers: string[]): WebSocket | undefined {
    this.extraHeaders.set(upgrade.req, headers);
    let accepted: WebSocket | undefined;
    // Synchronous without verifyClient: the callback has run, or the handshake was refused, when this returns.
    this.wss.handleUpgrade(upgrade.req, upgrade.socket, upgrade.head, (ws) => (accepted = ws));
    upgrade.socket.resume(); // paused by the server while the request was checked
    return accepted;
  }
}

/** What {@link serveStream} needs. */
export interface StreamDeps {
  launcher: LauncherConnector;
  acceptor: StreamAcceptor;
  log: SubresourceLog;
  /** The caps on open streams; a stream holds its slot from before the launcher is dialled to its end. */
  limits: StreamLimits;
  bridge?: Omit<BridgeOptions, 'endedReason'>;
}

function streamTarget(request: SubresourceRequest): StreamTarget {
  if (request.subresource === 'portforward') return { subresource: 'portforward', port: request.port };
  if (request.subresource === 'metrics') throw new Error('metrics is not a stream');
  return { subresource: request.subresource };
}

function endedReason(request: SubresourceRequest): string {
  if (request.subresource === 'console') return 'the console ended: the VM stopped or its launcher closed the session';
  if (request.subresource === 'vnc') return 'the display closed: the VM stopped or QEMU closed it';
  if (request.subresource === 'portforward') return `the connection to guest port ${request.port} ended`;
  return 'the stream ended';
}

/** Opens the launcher's stream, then the client's WebSocket, and joins them until one ends. */
export async function serveStream(deps: StreamDeps, admitted: Admitted, upgrade: { req: IncomingMessage; socket: Duplex; head: Buffer }): Promise<void> {
  const { request, identity } = admitted;
  const fields = { user: identity.user, subresource: request.subresource, namespace: request.namespace, name: request.name, ...(request.subresource === 'portforward' ? { port: request.port } : {}) };
  const slot = deps.limits.take(identity.user, request);
  if (!slot.ok) {
    deps.log.warn({ ...fields, code: slot.status.code, why: slot.log }, 'stream refused: limit');
    return sendStatus(socketAnswer(upgrade.socket), slot.status);
  }
  try {
    await serveAdmittedStream(deps, admitted, upgrade, fields);
  } finally {
    slot.release();
  }
}

async function serveAdmittedStream(deps: StreamDeps, admitted: Admitted, upgrade: { req: IncomingMessage; socket: Duplex; head: Buffer }, fields: Record<string, unknown>): Promise<void> {
  const { request, target } = admitted;
  let launcher;
  try {
    launcher = await deps.launcher.open(target, streamTarget(request));
  } catch (err) {
    const status = launcherFailureStatus(err, request);
    deps.log.warn({ ...fields, code: status.code, reason: err instanceof LauncherError ? err.reason : 'Error', err: err instanceof Error ? err.message : String(err) }, 'stream refused at the launcher');
    return sendStatus(socketAnswer(upgrade.socket), status);
  }
  if (upgrade.socket.destroyed) {
    launcher.socket.destroy(); // the client gave up while the launcher was dialled
    return;
  }
  const headers = launcher.consoleMode ? [`${CONSOLE_MODE_HEADER}: ${launcher.consoleMode}`] : [];
  const ws = deps.acceptor.accept(upgrade, headers);
  if (!ws) {
    launcher.socket.destroy();
    deps.log.warn(fields, 'WebSocket handshake refused');
    return;
  }
  if (launcher.head.length) launcher.socket.unshift(launcher.head);
  const started = Date.now();
  deps.log.info({ ...fields, ...(launcher.consoleMode ? { consoleMode: launcher.consoleMode } : {}) }, 'stream opened');
  const result = await bridge(ws, launcher.socket, { ...deps.bridge, endedReason: endedReason(request) });
  deps.log.info({ ...fields, ...result, seconds: Math.round((Date.now() - started) / 100) / 10 }, 'stream closed');
}
