/** Free local TCP ports, for guest port forwards and local test servers. */
import { createServer, type AddressInfo } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that is free right now: the kernel picks it and it is released
 * again, so whoever binds it next should do so soon.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
