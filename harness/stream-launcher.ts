/**
 * A launcher's control API for the streams and metrics, as api/contract/control.ts describes
 * them, for the subresource server's tests: mutual TLS with one VM's credentials (client
 * certificates from its CA only), `GET /console|/vnc|/portforward?port=N` upgraded with `101
 * Switching Protocols` and then an echo of every byte, `GET /vm-metrics` with a report, and
 * refusals as the launcher writes them (`{reason, message}`). The real launcher's console is
 * tested in launcher/control/console.test.ts; QEMU's VNC and guest ports in the e2e tier.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { CONSOLE_MODE_HEADER, STREAM_UPGRADES, type ConsoleMode, type VmMetricsReport } from '../api/contract/control.js';

/** A refusal as the launcher answers it. */
export interface LauncherRefusal {
  status: number;
  reason: string;
  message: string;
}

/** One request the stand-in received. */
export interface StreamLauncherCall {
  path: string;
  /** The client certificate's common name, when it was verified against the CA. */
  client?: string;
}

/** Options of {@link startStreamLauncher}. */
export interface StreamLauncherOptions {
  /** The VM's launcher certificate, its key, and the CA whose client certificates are taken (PEM). */
  tls: { cert: string; key: string; clientCa: string };
  host: string;
  port: number;
}

/** The running stand-in; its fields may be changed between requests. */
export interface StreamLauncher {
  port: number;
  calls: StreamLauncherCall[];
  /** The console mode the next console session is told. */
  consoleMode: ConsoleMode;
  /** Bytes written right after the 101 (in the same write), as a launcher sends the console's recent output. */
  greeting: string;
  /** Refusals by path (`/vnc`, `/vm-metrics`, ...). */
  refuse: Map<string, LauncherRefusal>;
  metrics: VmMetricsReport;
  /** Open upgraded streams. */
  streams: Set<Duplex>;
  close(): Promise<void>;
}

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

function clientOf(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!(cert.ext_key_usage ?? []).includes(CLIENT_AUTH_OID)) return undefined;
  const cn = cert.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

function rawJson(status: number, body: unknown): string {
  const text = JSON.stringify(body);
  return `HTTP/1.1 ${status} Refused\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`;
}

/** Starts the stand-in on `host:port` (port 0: any). */
export async function startStreamLauncher(options: StreamLauncherOptions): Promise<StreamLauncher> {
  const launcher: StreamLauncher = {
    port: 0,
    calls: [],
    consoleMode: 'interactive',
    greeting: '',
    refuse: new Map(),
    metrics: { time: new Date().toISOString(), state: 'running', cpu: { qemuSeconds: 12.5, vcpus: [{ vcpu: 0, seconds: 10 }] }, memory: { guestBytes: 268435456, residentBytes: 123456789 }, disks: [{ name: 'root', readBytes: 1024, writeBytes: 2048, readOps: 3, writeOps: 4, flushOps: 1 }], failed: [] },
    streams: new Set(),
    close: async () => undefined,
  };
  const server: Server = createServer({ cert: options.tls.cert, key: options.tls.key, ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as TLSSocket;
    const client = clientOf(socket);
    const path = new URL(req.url ?? '/', 'https://launcher').pathname;
    launcher.calls.push({ path: req.url ?? '', ...(client ? { client } : {}) });
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!client) return reply(401, { reason: 'ClientCertificateRejected', message: 'a client certificate from the launcher CA is needed' });
    const refusal = launcher.refuse.get(path);
    if (refusal) return reply(refusal.status, { reason: refusal.reason, message: refusal.message });
    if (path === '/vm-metrics') return reply(200, launcher.metrics);
    reply(404, { reason: 'NotFound', message: `${req.method} ${path}` });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const client = clientOf(socket as TLSSocket);
    const path = new URL(req.url ?? '/', 'https://launcher').pathname;
    launcher.calls.push({ path: req.url ?? '', ...(client ? { client } : {}) });
    const upgrade = STREAM_UPGRADES[path as keyof typeof STREAM_UPGRADES];
    if (!client) return socket.end(rawJson(401, { reason: 'ClientCertificateRejected', message: 'a client certificate from the launcher CA is needed' }));
    if (!upgrade || req.headers.upgrade !== upgrade) return socket.end(rawJson(400, { reason: 'InvalidRequest', message: `no upgrade ${req.headers.upgrade} on ${path}` }));
    const refusal = launcher.refuse.get(path);
    if (refusal) return socket.end(rawJson(refusal.status, { reason: refusal.reason, message: refusal.message }));
    const mode = path === '/console' ? [`${CONSOLE_MODE_HEADER}: ${launcher.consoleMode}`] : [];
    socket.write([`HTTP/1.1 101 Switching Protocols`, 'connection: Upgrade', `upgrade: ${upgrade}`, ...mode, '', launcher.greeting].join('\r\n'));
    if (head.length) socket.unshift(head);
    launcher.streams.add(socket);
    socket.once('close', () => launcher.streams.delete(socket));
    socket.pipe(socket); // the echo, with the stream's own backpressure
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  launcher.port = (server.address() as AddressInfo).port;
  launcher.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const stream of launcher.streams) stream.destroy();
    });
  return launcher;
}
