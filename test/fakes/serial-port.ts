/**
 * QEMU's side of a serial chardev (`-chardev socket,server=on`): a unix socket that takes one
 * client, records what it is sent, and writes what the "guest" prints. For the serial
 * fan-out's unit tests and the control API's console tests.
 */
import net from 'node:net';

/** A fake serial port listening on `path`. */
export async function fakeSerialPort(path: string) {
  const received: Buffer[] = [];
  let client: net.Socket | undefined;
  const server = net.createServer();
  const connected = new Promise<net.Socket>((resolve) => {
    server.once('connection', (c) => {
      client = c;
      c.on('data', (d: Buffer) => received.push(d));
      resolve(c);
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    connected,
    /** Everything sessions typed, in order. */
    received: () => Buffer.concat(received).toString(),
    guestWrites: async (text: string) => (await connected).write(text),
    /** QEMU exits: the serial socket closes. */
    exit: async () => {
      client?.end();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export type FakeSerialPort = Awaited<ReturnType<typeof fakeSerialPort>>;
