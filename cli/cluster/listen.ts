/**
 * A local TCP listener on 127.0.0.1 whose every connection is bridged to a stream of its own
 * (`vnc` for VNC viewers, `port-forward` and `ssh` for guest ports). Only loopback: what it
 * forwards is opened with the user's own Kubernetes credentials, so it is never offered to
 * the network.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The listener could not start; the message names the fix. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

/** Options of {@link listenLocal}. */
export interface ListenOptions {
  /** 0: a free port, chosen by the kernel. */
  port: number;
  /** Opens the stream for one accepted connection. */
  open: () => Promise<Duplex>;
  /** A connection's stream could not be opened or broke; the others go on. */
  onError: (err: Error, peer: string) => void;
  /** Stop accepting after this many connections (ssh makes one): none by default. */
  maxConnections?: number;
}

/** A listening port; `close` stops it and cuts every bridged connection. */
export interface LocalListener {
  port: number;
  /** Resolves when the last bridged connection (of `maxConnections`) has ended. */
  drained: Promise<void>;
  close(): Promise<void>;
}

/** The listen failure as a sentence: a taken port, a privileged one. */
export function listenErrorMessage(port: number, err: Error & { code?: string }): string {
  if (err.code === 'EADDRINUSE') return `port ${port} of 127.0.0.1 is already in use: choose another one`;
  if (err.code === 'EACCES') return `port ${port} of 127.0.0.1 needs privileges to listen on: choose one above 1023`;
  return `cannot listen on 127.0.0.1:${port}: ${err.message}`;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new ListenError(listenErrorMessage(port, err))));
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** Starts listening; each connection is paused until its stream is open, then bridged both ways. */
export async function listenLocal(options: ListenOptions): Promise<LocalListener> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let endDrained: () => void = () => undefined;
  const drained = new Promise<void>((resolve) => (endDrained = resolve));
  const bridge = async (socket: Socket): Promise<void> => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    try {
      const stream = await options.open();
      if (socket.destroyed) {
        stream.destroy();
        return;
      }
      // pipeline(a, b, a): both directions, each end's finish ends the other; an error destroys both.
      await pipeline(socket, stream, socket);
    } catch (err) {
      socket.destroy();
      if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') options.onError(err as Error, peer);
    }
  };
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    accepted += 1;
    if (options.maxConnections !== undefined && accepted >= options.maxConnections) server.close();
    sockets.add(socket);
    void bridge(socket).finally(() => {
      sockets.delete(socket);
      if (options.maxConnections !== undefined && accepted >= options.maxConnections && sockets.size === 0) endDrained();
    });
  });
  const port = await listen(server, options.port);
  return {
    port,
    drained,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
        if (!server.listening) resolve();
      }),
  };
}
