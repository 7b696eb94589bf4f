import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { bridge, closeReason, type BridgeOptions, type BridgeResult } from './bridge.js';

/** Two ends of one TCP connection: the bridge's launcher stream, and the launcher the test plays. */
async function socketPair(): Promise<{ bridged: Socket; launcher: Socket }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const bridged = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const launcher = await accepted;
  server.close();
  return { bridged, launcher };
}

interface Rig {
  client: WebSocket;
  server: WebSocket;
  bridged: Socket;
  launcher: Socket;
  result: Promise<BridgeResult>;
  close(): void;
}

async function rig(opts: Partial<BridgeOptions> = {}): Promise<Rig> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  const { bridged, launcher } = await socketPair();
  bridged.pause();
  const accepted = new Promise<{ server: WebSocket; result: Promise<BridgeResult> }>((resolve) =>
    wss.once('connection', (ws) => resolve({ server: ws, result: bridge(ws, bridged, { endedReason: 'the console ended', ...opts }) })),
  );
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  await new Promise((r) => client.once('open', r));
  const { server, result } = await accepted;
  return { client, server, bridged, launcher, result, close: () => (client.terminate(), launcher.destroy(), wss.close()) };
}

function received(socket: Socket): () => Buffer {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks);
}

function messages(ws: WebSocket): { data: Buffer[]; binary: boolean[] } {
  const out = { data: [] as Buffer[], binary: [] as boolean[] };
  ws.on('message', (d: Buffer, isBinary: boolean) => (out.data.push(d), out.binary.push(isBinary)));
  return out;
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('bridge', () => {
  it('carries binary messages byte for byte both ways', async () => {
    const r = await rig();
    const atLauncher = received(r.launcher);
    const atClient = messages(r.client);
    const bytes = Buffer.from([0, 1, 2, 0xff, 0x1b, 0x5b, 0x41]);
    r.client.send(bytes, { binary: true });
    await until('the launcher got the bytes', () => atLauncher().equals(bytes));
    r.launcher.write(Buffer.from('login: '));
    await until('the client got the output', () => atClient.data.length > 0);
    expect(Buffer.concat(atClient.data).toString()).toBe('login: ');
    expect(atClient.binary.every(Boolean)).toBe(true);
    r.client.close(1000);
    expect(await r.result).toMatchObject({ bytesIn: 7, bytesOut: 7, code: 1000, endedBy: 'client' });
    r.close();
  });

  it('closes with 1003 on a text message, and ends the launcher stream', async () => {
    const r = await rig();
    const ended = new Promise((resolve) => r.launcher.once('end', resolve));
    const close = closed(r.client);
    r.client.send('ls\n');
    expect(await close).toEqual({ code: 1003, reason: expect.stringMatching(/^text messages are not accepted: v1\.stream\.kubevmm\.io carries bytes in binary messages/) });
    await ended;
    expect(await r.result).toMatchObject({ code: 1003, bytesIn: 0 });
    r.close();
  });

  it('closes with 1000 and the reason when the launcher ends the stream, after everything it sent', async () => {
    const r = await rig();
    const atClient = messages(r.client);
    const close = closed(r.client);
    r.launcher.end('Power down.\r\n');
    expect(await close).toEqual({ code: 1000, reason: 'the console ended' });
    expect(Buffer.concat(atClient.data).toString()).toBe('Power down.\r\n');
    expect(await r.result).toMatchObject({ endedBy: 'launcher', code: 1000 });
    r.close();
  });

  it('closes with 1011 and the failure when the launcher connection breaks', async () => {
    const r = await rig();
    const close = closed(r.client);
    r.bridged.destroy(new Error('read ECONNRESET'));
    expect(await close).toEqual({ code: 1011, reason: 'the launcher connection failed: read ECONNRESET' });
    expect(await r.result).toMatchObject({ endedBy: 'error', code: 1011 });
    r.close();
  });

  it('pauses the launcher while the client does not read, and loses nothing', async () => {
    const r = await rig({ highWaterBytes: 64 * 1024, lowWaterBytes: 16 * 1024 });
    r.client.pause();
    const total = 8 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const writing = (async () => {
      for (let sent = 0; sent < total; sent += chunk.length) if (!r.launcher.write(chunk)) await new Promise((d) => r.launcher.once('drain', d));
    })();
    // Backpressure reaches the launcher: the bridge stops reading it, so its writes stall.
    await until('the launcher side was paused', () => r.bridged.isPaused());
    await sleep(200);
    expect(r.server.bufferedAmount).toBeLessThan(64 * 1024 + 2 * chunk.length);
    let got = 0;
    r.client.on('message', (d: Buffer) => (got += d.length));
    r.client.resume();
    await until('everything reached the client', () => got === total, 20_000);
    await writing;
    r.client.close();
    await r.result;
    r.close();
  }, 30_000);

  it('pauses the client while the launcher does not read, and loses nothing', async () => {
    const r = await rig();
    r.launcher.pause();
    const chunk = Buffer.alloc(256 * 1024, 3);
    for (let i = 0; i < 32; i++) r.client.send(chunk, { binary: true });
    await until('the client side was paused', () => r.server.isPaused);
    const atLauncher = received(r.launcher);
    r.launcher.resume();
    await until('everything reached the launcher', () => atLauncher().length === 32 * chunk.length, 20_000);
    await until('the client side resumed', () => !r.server.isPaused);
    r.client.close();
    expect((await r.result).bytesIn).toBe(32 * chunk.length);
    r.close();
  }, 30_000);

  it('drops a client that stopped answering pings, which ends the launcher stream', async () => {
    const r = await rig({ pingMs: 40 });
    const ended = new Promise((resolve) => r.launcher.once('end', resolve));
    r.client.pause(); // reads nothing more: no pong
    expect(await r.result).toMatchObject({ code: 1006, endedBy: 'client' });
    await ended;
    r.close();
  });
});

describe('closeReason', () => {
  it('cuts a reason to the 123 bytes a close frame holds, not inside a character', () => {
    expect(Buffer.byteLength(closeReason('é'.repeat(100)))).toBe(122);
    expect(closeReason('short')).toBe('short');
  });
});
