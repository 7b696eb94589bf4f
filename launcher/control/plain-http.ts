// The control port speaks TLS only. A connection whose first byte is not a TLS handshake
// record gets one HTTP answer saying so (a kubelet probe or a curl left on http:// should
// read why, not a reset) and is closed; nothing behind the port is reached.

import { STATUS_CODES } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { createServer, type Socket } from 'node:net';

/** First byte of every TLS connection: a handshake record (ClientHello). */
const TLS_HANDSHAKE = 0x16;

const REFUSAL = { reason: 'TlsRequired', message: 'the launcher control API speaks HTTPS only (mutual TLS): use https://' };

/**
 * A whole HTTP/1.1 answer with a JSON body, for a socket no http.Server answers on (here, and
 * a refused console upgrade); the connection closes after it.
 */
export function rawJsonAnswer(status: number, body: unknown, headers: readonly string[] = []): string {
  const text = `${JSON.stringify(body)}\n`;
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, 'content-type: application/json', ...headers, 'connection: close', `content-length: ${Buffer.byteLength(text)}`];
  return `${head.join('\r\n')}\r\n\r\n${text}`;
}

function refuse(socket: Socket): void {
  // Drain what the client sent, so its close is seen and the socket goes.
  socket.resume();
  socket.setTimeout(5000, () => socket.destroy());
  socket.end(rawJsonAnswer(400, REFUSAL));
}

/** The front server, and a way to drop every connection it accepted (at close). */
export interface TlsOnlyFront {
  server: Server;
  destroyAll(): void;
}

/**
 * A TCP server that hands TLS connections to `tls` (an https.Server) and answers anything
 * else with 400 TlsRequired.
 */
export function tlsOnlyFront(tls: Pick<Server, 'emit'>): TlsOnlyFront {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('readable', function sniff() {
      const first = socket.read(1) as Buffer | null;
      if (first === null) return socket.once('readable', sniff);
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE) tls.emit('connection', socket);
      else refuse(socket);
    });
  });
  return { server, destroyAll: () => sockets.forEach((s) => s.destroy()) };
}

/** A TLS-only front listening, with its URL for clients on this host. */
export interface ListeningFront {
  /** e.g. `https://127.0.0.1:9500` (an any-address listener is reached on loopback). */
  url: string;
  port: number;
  /** Stop listening and drop every connection. */
  close(): Promise<void>;
}

/** Listen on `port` (0: any free one) with a TLS-only front for `tls` (an https.Server). */
export async function listenTlsOnly(tls: Pick<Server, 'emit'> & { closeAllConnections(): void }, port: number, host?: string): Promise<ListeningFront> {
  const { server: front, destroyAll } = tlsOnlyFront(tls);
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(port, host, () => resolve());
  });
  const { port: bound, address } = front.address() as AddressInfo;
  const shown = address.includes(':') ? `[${address}]` : address;
  return {
    url: `https://${shown === '[::]' || shown === '0.0.0.0' ? '127.0.0.1' : shown}:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        front.close(() => resolve());
        tls.closeAllConnections();
        destroyAll();
      }),
  };
}
