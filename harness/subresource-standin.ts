// A stand-in for the API server and kubevmm's subresource server together, for the CLI's
// stream verbs without a cluster: HTTPS with its own CA, users known by a client certificate
// of that CA or a bearer token, `v1.stream.kubevmm.io` required, refusals as Kubernetes
// Status answers, and accepted streams bridged byte for byte to a local socket (QEMU's VNC
// socket, an echo server), closing 1000 when that socket ends and 1011 when it fails.
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { createConnection, type AddressInfo, type Socket } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { failureStatus, parseSubresourcePath, STREAM_PROTOCOL, type KubeStatus, type SubresourceRequest } from '../api/contract/subresource.js';
import { createCa, issueCertificate, type PemPair } from '../operator/pki/certs.js';

/** What the stand-in does with one authenticated request. */
export type Route =
  | { refuse: KubeStatus }
  /** Bridge to a unix socket path or a TCP port on 127.0.0.1. */
  | { bridge: string | number; headers?: string[] }
  | { handle: (ws: WebSocket) => void; headers?: string[] };

/** Options of {@link startStandin}. */
export interface StandinOptions {
  /** The bearer tokens it accepts, and the user each one is. */
  tokens?: Record<string, string>;
  route: (request: SubresourceRequest, user: string) => Route;
}

/** A running stand-in. */
export interface Standin {
  url: string;
  caPem: string;
  /** A client certificate for `user` (CN), issued by the stand-in's CA. */
  clientCert(user: string): Promise<PemPair>;
  /** Requests seen: who, what, and the subprotocols offered. */
  seen: { user: string; path: string; protocols: string }[];
  close(): Promise<void>;
}

function refuse(socket: Duplex, status: KubeStatus): void {
  const body = JSON.stringify(status);
  socket.end(`HTTP/1.1 ${status.code} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Who the request is: a verified client certificate's CN, or a known bearer token. */
function userOf(req: IncomingMessage, tokens: Record<string, string>): string | undefined {
  const tls = req.socket as TLSSocket;
  if (tls.authorized) return tls.getPeerCertificate().subject?.CN as string | undefined;
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  return token ? tokens[token] : undefined;
}

/** Bridges a WebSocket to a local socket: binary messages both ways, 1000 on its end, 1011 on its failure. */
export function bridge(ws: WebSocket, target: string | number): void {
  const socket: Socket = typeof target === 'number' ? createConnection(target, '127.0.0.1') : createConnection(target);
  socket.on('data', (chunk: Buffer) => {
    ws.send(chunk, { binary: true });
    // Backpressure towards the local socket: wait while the WebSocket has a lot queued.
    if (ws.bufferedAmount > 1 << 20) {
      socket.pause();
      const wait = setInterval(() => {
        if (ws.bufferedAmount < 1 << 18 || ws.readyState !== ws.OPEN) {
          clearInterval(wait);
          socket.resume();
        }
      }, 5);
    }
  });
  socket.once('end', () => ws.close(1000, 'the guest closed the port'));
  socket.once('error', (err: Error) => ws.close(1011, `cannot reach the guest: ${err.message}`));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) ws.close(1003, 'text messages are not part of the protocol');
    else socket.write(data);
  });
  ws.once('close', () => socket.end());
}

/** Starts the stand-in on 127.0.0.1 (a free port). */
export async function startStandin(options: StandinOptions): Promise<Standin> {
  const now = new Date();
  const ca = await createCa(now, 'standin-ca');
  const serving = await issueCertificate(ca, { subject: 'CN=standin-apiserver', sans: ['127.0.0.1', 'localhost'], usage: 'server', lifetimeMs: 3600_000, now });
  const seen: Standin['seen'] = [];
  const headersFor = new WeakMap<IncomingMessage, string[]>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (offered) => (offered.has(STREAM_PROTOCOL) ? STREAM_PROTOCOL : false) });
  wss.on('headers', (headers, req) => headers.push(...(headersFor.get(req) ?? [])));
  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const user = userOf(req, options.tokens ?? {});
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '');
    seen.push({ user: user ?? '', path: req.url ?? '', protocols });
    if (!user) return refuse(socket, failureStatus('Unauthorized', 'Unauthorized'));
    const parsed = parseSubresourcePath(req.url ?? '');
    if (!parsed.ok) {
      const status = failureStatus(parsed.refusal.code === 404 ? 'NotFound' : 'BadRequest', parsed.refusal.message);
      return refuse(socket, { ...status, details: {} });
    }
    if (!protocols.split(/,\s*/).includes(STREAM_PROTOCOL)) return refuse(socket, failureStatus('BadRequest', `offer the subprotocol ${STREAM_PROTOCOL}`));
    const route = options.route(parsed.request, user);
    if ('refuse' in route) return refuse(socket, route.refuse);
    headersFor.set(req, route.headers ?? []);
    wss.handleUpgrade(req, socket, head, (ws) => ('bridge' in route ? bridge(ws, route.bridge) : route.handle(ws)));
  });
  server.on('request', (_req, res) => res.writeHead(400).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    caPem: ca.certPem,
    seen,
    clientCert: (user) => issueCertificate(ca, { subject: `CN=${user},O=kubevmm-test`, sans: [], usage: 'client', lifetimeMs: 3600_000, now: new Date() }),
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A kubeconfig for the stand-in: a client certificate's user, or a token's (in a token file when asked). */
export async function writeKubeconfig(dir: string, standin: Standin, user: { cert?: PemPair; token?: string; tokenFile?: boolean; namespace?: string }): Promise<string> {
  await mkdir(dir, { recursive: true });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: standin\n  cluster:\n    server: ${standin.url}\n    certificate-authority-data: ${b64(standin.caPem)}`,
    'users:',
  ];
  if (user.cert) lines.push(`- name: me\n  user:\n    client-certificate-data: ${b64(user.cert.certPem)}\n    client-key-data: ${b64(user.cert.keyPem)}`);
  else if (user.token && user.tokenFile) {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, user.token, { mode: 0o600 });
    lines.push(`- name: me\n  user:\n    tokenFile: ${tokenFile}`);
  } else lines.push(`- name: me\n  user:\n    token: ${user.token ?? ''}`);
  lines.push('contexts:', `- name: standin\n  context:\n    cluster: standin\n    user: me\n    namespace: ${user.namespace ?? 'default'}`, 'current-context: standin', '');
  const file = join(dir, 'kubeconfig');
  await writeFile(file, lines.join('\n'), { mode: 0o600 });
  return file;
}
