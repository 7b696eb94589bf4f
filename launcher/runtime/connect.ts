// Opening a socket for a stream the control API hands out (QEMU's VNC socket, a forwarded
// guest port): connected or failed, and given up when the client that asked went away.

import net from 'node:net';

/** A TCP or unix-socket connection, resolved once connected; rejects on error or abort. */
export function connectSocket(target: net.NetConnectOpts, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const socket = net.connect(target);
    const onAbort = (): void => {
      socket.destroy();
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
  });
}
