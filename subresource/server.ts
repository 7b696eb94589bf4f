/**
 * The subresource server's HTTPS listener. It asks every client for a certificate but lets
 * the handshake succeed without one: the kubelet's probes present none, and a request without
 * the front proxy's certificate must get a 401 Status it can read, not a reset. Whether a
 * certificate is the front proxy's is decided per request against the requestheader CA
 * (handler.ts), never by the TLS layer, whose CA list could not follow the ConfigMap.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { responseAnswer, socketAnswer } from './answer.js';
import { handle, type HandlerDeps } from './handler.js';

/** Largest request head taken (the identity headers of a user with many groups). */
export const MAX_HEADER_BYTES = 256 * 1024;

/** The serving certificate and key (PEM). */
export interface ServingTls {
  cert: string;
  key: string;
}

/** Options of {@link startSubresourceServer}. */
export interface SubresourceServerOptions {
  deps: HandlerDeps;
  tls: ServingTls;
  port: number;
  /** Default: all interfaces (the aggregator dials the pod IP). */
  host?: string;
}

/** A listening server. */
export interface SubresourceServer {
  /** e.g. `https://127.0.0.1:8443`. */
  url: string;
  port: number;
  /** Serves a renewed certificate to new connections. */
  setTls(tls: ServingTls): void;
  /** Stops listening and drops every connection, streams included. */
  close(): Promise<void>;
}

/** Starts serving; resolves once listening. */
export async function startSubresourceServer(options: SubresourceServerOptions): Promise<SubresourceServer> {
  const server = https.createServer({
    cert: options.tls.cert,
    key: options.tls.key,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    // The front proxy sends every group and extra of the user as headers: a user of an identity
    // provider with many groups outgrows Node's 16 KiB default, which Go's 1 MiB never hits.
    maxHeaderSize: MAX_HEADER_BYTES,
  });
  const sockets = new Set<Duplex>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => void handle(options.deps, { req, answer: responseAnswer(res), res }));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Held still while the request is checked: nothing the client sends may be lost or act early.
    socket.pause();
    socket.on('error', () => socket.destroy());
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    void handle(options.deps, { req, answer: socketAnswer(socket), upgrade: { socket, head } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address === '::' || address === '0.0.0.0' ? '127.0.0.1' : address.includes(':') ? `[${address}]` : address;
  return {
    url: `https://${host}:${port}`,
    port,
    setTls: (tls) => server.setSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      }),
  };
}
