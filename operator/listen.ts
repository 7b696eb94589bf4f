/** Starting an HTTP(S) server and naming the address a local client can reach it at. */
import type { AddressInfo, Server } from 'node:net';

/** Where a started server listens: its port, and a host for URLs (IPv6 in brackets). */
export interface Listening {
  port: number;
  /** 127.0.0.1 when bound to every address. */
  urlHost: string;
}

/** Listens on `port` (0: any free one) and `host` (default: every address); rejects on bind errors. */
export async function listen(server: Server, port: number, host?: string): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const local = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { port: bound.port, urlHost: local.includes(':') ? `[${local}]` : local };
}
