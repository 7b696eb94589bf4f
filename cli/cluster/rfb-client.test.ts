import { Duplex, PassThrough } from 'node:stream';
import { RfbClient } from './rfb-client.js';
import { RfbError } from './rfb.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A client stream whose other end is a scripted server: what the client writes lands in `sent`. */
function serverPair(): { client: Duplex; toClient: PassThrough; sent: () => Buffer } {
  const toClient = new PassThrough();
  const fromClient = new PassThrough();
  const chunks: Buffer[] = [];
  fromClient.on('data', (c: Buffer) => chunks.push(c));
  return { client: Duplex.from({ readable: toClient, writable: fromClient }), toClient, sent: () => Buffer.concat(chunks) };
}

const SERVER_INIT_2x2 = hex('0002 0002 20 18 00 01 00ff 00ff 00ff 10 08 00 000000 00000004') ;
const HELLO = Buffer.concat([Buffer.from('RFB 003.008\n'), hex('02 02 01'), hex('00000000'), SERVER_INIT_2x2, Buffer.from('qemu')]);

describe('RfbClient', () => {
  it('does the 3.8 handshake with security None and a shared ClientInit, then asks for 32-bit pixels and Raw/CopyRect/DesktopSize', async () => {
    const { client, toClient, sent } = serverPair();
    const rfb = new RfbClient(client);
    // The server's bytes arrive in odd pieces, as TCP may cut them.
    for (let i = 0; i < HELLO.length; i += 5) toClient.write(HELLO.subarray(i, i + 5));
    await rfb.handshake();
    expect(rfb.name).toBe('qemu');
    expect([rfb.framebuffer.width, rfb.framebuffer.height]).toEqual([2, 2]);
    expect(sent()).toEqual(
      Buffer.concat([
        Buffer.from('RFB 003.008\n'),
        hex('01'), // security None
        hex('01'), // ClientInit shared
        hex('00 000000 20 18 00 01 00ff 00ff 00ff 10 08 00 000000'),
        hex('02 00 0003 00000000 00000001 ffffff21'),
      ]),
    );
  });

  it('reads a full screen across rectangles, CopyRect and messages it does not need', async () => {
    const { client, toClient, sent } = serverPair();
    const rfb = new RfbClient(client);
    toClient.write(HELLO);
    await rfb.handshake();
    const before = sent().length;
    const shot = rfb.screenshot();
    toClient.write(hex('02')); // Bell
    toClient.write(Buffer.concat([hex('03 000000 00000003'), Buffer.from('abc')])); // ServerCutText
    toClient.write(hex('01 00 0000 0001 102030 405060')); // SetColourMapEntries, one entry
    // Update 1: the top row, Raw (red, green). Not the whole screen yet: the client asks again.
    toClient.write(hex('00 00 0001  0000 0000 0002 0001 00000000  0000ff00 00ff0000'));
    await new Promise((r) => setImmediate(r));
    // Update 2: the bottom row as a copy of the top row.
    toClient.write(hex('00 00 0001  0000 0001 0002 0001 00000001  0000 0000'));
    const fb = await shot;
    expect([...fb.rgba]).toEqual([255, 0, 0, 255, 0, 255, 0, 255, 255, 0, 0, 255, 0, 255, 0, 255]);
    // Two non-incremental requests for the whole 2x2 screen.
    expect(sent().subarray(before)).toEqual(hex('03 00 0000 0000 0002 0002  03 00 0000 0000 0002 0002'));
  });

  it('starts over at the new size when the screen is resized during the screenshot', async () => {
    const { client, toClient } = serverPair();
    const rfb = new RfbClient(client);
    toClient.write(HELLO);
    await rfb.handshake();
    const shot = rfb.screenshot();
    toClient.write(hex('00 00 0001  0000 0000 0001 0001 ffffff21'));
    toClient.write(hex('00 00 0001  0000 0000 0001 0001 00000000  ffffff00'));
    const fb = await shot;
    expect([fb.width, fb.height, ...fb.rgba]).toEqual([1, 1, 255, 255, 255, 255]);
  });

  it('refuses a server that wants a password, naming what it wants', async () => {
    const { client, toClient } = serverPair();
    toClient.write(Buffer.concat([Buffer.from('RFB 003.008\n'), hex('01 02')]));
    await expect(new RfbClient(client).handshake()).rejects.toThrow('the VNC server wants authentication (VNC Authentication (a password))');
  });

  it("passes on the server's reason when it refuses the connection", async () => {
    const { client, toClient } = serverPair();
    toClient.write(Buffer.concat([Buffer.from('RFB 003.008\n'), hex('00 0000000b'), Buffer.from('too many cl')]));
    await expect(new RfbClient(client).handshake()).rejects.toThrow('the VNC server refused the connection: too many cl');
  });

  it('fails with RfbError, not a hang, when the server closes in the middle of a message', async () => {
    const { client, toClient } = serverPair();
    toClient.end(Buffer.from('RFB 003.008\n'));
    const handshake = new RfbClient(client).handshake();
    await expect(handshake).rejects.toBeInstanceOf(RfbError);
    await expect(handshake).rejects.toThrow('the VNC server closed the connection');
  });
});
