import net from 'node:net';
import { once } from 'node:events';
import { splice } from './splice.js';

/** A connected pair of TCP sockets on loopback: [the side we hold, the far end]. */
async function pair(server: net.Server): Promise<[net.Socket, net.Socket]> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const near = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [[far]] = await Promise.all([accepted, once(near, 'connect')]);
  far.on('error', () => undefined);
  return [near, far];
}

/** Everything a socket receives until it ends. */
function collect(socket: net.Socket): { text: () => string; ended: Promise<void> } {
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString()));
  return { text: () => text, ended: new Promise((resolve) => socket.once('end', () => resolve())) };
}

let server: net.Server;
const sockets: net.Socket[] = [];

beforeEach(async () => {
  // Far ends that keep their side open after a FIN, as a guest may.
  server = net.createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  server.close();
});

/** A splice between a client (its far end is `client`) and a guest (its far end is `guest`). */
async function spliced(lingerMs?: number) {
  const [clientSide, client] = await pair(server);
  const [guestSide, guest] = await pair(server);
  sockets.push(clientSide, client, guestSide, guest);
  splice(clientSide, guestSide, lingerMs);
  return { client, guest, clientSide, guestSide };
}

describe('splice', () => {
  it('carries bytes both ways', async () => {
    const { client, guest } = await spliced();
    const atGuest = collect(guest);
    const atClient = collect(client);
    client.write('to the guest');
    guest.write('to the client');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(atGuest.text()).toBe('to the guest');
    expect(atClient.text()).toBe('to the client');
  });

  it("passes the guest's end on after its last bytes", async () => {
    const { client, guest } = await spliced();
    const atClient = collect(client);
    guest.end('last words');
    await atClient.ended;
    expect(atClient.text()).toBe('last words');
  });

  it("passes the client's end on to the guest after its last bytes", async () => {
    const { client, guest } = await spliced();
    const atGuest = collect(guest);
    client.end('quit\n');
    await atGuest.ended;
    expect(atGuest.text()).toBe('quit\n');
  });

  it('takes the guest side down at once when the client resets', async () => {
    const { client, guestSide } = await spliced();
    client.resetAndDestroy();
    await once(guestSide, 'close');
    expect(guestSide.destroyed).toBe(true);
  });

  it('closes a guest that ignores the end once the linger time is over', async () => {
    const { client, guest, clientSide, guestSide } = await spliced(200);
    const atGuest = collect(guest);
    const clientGone = once(clientSide, 'close');
    const guestGone = once(guestSide, 'close');
    client.end();
    await atGuest.ended; // the guest got the FIN and keeps its own side open
    client.destroy();
    await clientGone;
    expect(guestSide.destroyed).toBe(false);
    guest.write('nobody reads this');
    await guestGone;
  });

  it('closes both when one side is already gone', async () => {
    const [clientSide] = await pair(server);
    const [guestSide] = await pair(server);
    clientSide.destroy();
    splice(clientSide, guestSide);
    expect(guestSide.destroyed).toBe(true);
  });
});
