// A client of the control API's streams (GET /console, /vnc, /portforward with an Upgrade), as
// the subresource server opens them: mutual TLS, the upgrade request, then raw bytes.
import { connect, type TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { launcherServerName } from '../../../api/layout.js';
import type { Caller } from './control.js';

/** The answer to an upgrade request and, after a 101, the stream. */
export interface StreamSession {
  status: number;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  socket: TLSSocket;
  /** Everything received after the answer's head (the stream, or a refusal's JSON body). */
  received(): Buffer;
  /** Waits until `check` holds for what was received; fails naming `what`. */
  waitFor(what: string, check: (received: Buffer) => boolean, ms?: number): Promise<Buffer>;
  /** Resolves when the connection has closed. */
  closed: Promise<void>;
  /** A refusal's body, once the launcher closed the connection. */
  json(): Promise<{ reason?: string; message?: string }>;
}

/** `GET <path>` with `Connection: Upgrade`; `request` may instead be the whole raw request. */
export function upgradeRequest(path: string, upgrade: string): string {
  return `GET ${path} HTTP/1.1\r\nhost: launcher\r\nconnection: Upgrade\r\nupgrade: ${upgrade}\r\n\r\n`;
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Opens a connection to the control API at `baseUrl` as `caller` and sends `request`. */
export async function openStream(baseUrl: string, caller: Caller, request: string, answerMs = 15_000): Promise<StreamSession> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect({ host: hostname, port: Number(port), ca: caller.ca, servername: launcherServerName(caller.vmUid), ...(caller.cert && caller.key ? { cert: caller.cert, key: caller.key } : {}) });
  let raw = Buffer.alloc(0);
  let ended = false;
  socket.on('data', (d: Buffer) => (raw = Buffer.concat([raw, d])));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => ((ended = true), resolve())));
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  socket.write(request);
  await until('the answer', () => raw.includes('\r\n\r\n') || ended, answerMs);
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(`the launcher closed the connection without an answer (${raw.length} bytes)`);
  const [statusLine, ...headerLines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const received = (): Buffer => raw.subarray(headEnd + 4);
  return {
    status: Number(statusLine!.split(' ')[1]),
    headers,
    socket,
    received,
    closed,
    waitFor: async (what, check, ms = 5_000) => (await until(what, () => check(received()), ms), received()),
    json: async () => (await closed, JSON.parse(received().toString('utf8')) as { reason?: string; message?: string }),
  };
}
