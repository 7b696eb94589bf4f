import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { attachConsole, CONSOLE_ESCAPE } from './console.js';

describe('attachConsole', () => {
  let dir: string;
  let server: net.Server;
  let guestSide: net.Socket | undefined;
  let fromTerminal = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-'));
    fromTerminal = '';
    guestSide = undefined;
    server = net.createServer((socket) => {
      guestSide = socket;
      socket.on('data', (d) => (fromTerminal += d.toString()));
      socket.write('login: ');
    });
    await new Promise<void>((r) => server.listen(join(dir, 'serial.sock'), r));
  });
  afterEach(async () => {
    guestSide?.destroy();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('bridges both ways and detaches on Ctrl-]', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (d: Buffer) => (shown += d.toString()));
    const session = attachConsole({ socket: join(dir, 'serial.sock'), input, output });
    for (let i = 0; i < 50 && !shown; i++) await new Promise((r) => setTimeout(r, 10));
    expect(shown).toBe('login: ');
    input.write('root\r');
    input.write(Buffer.from([0x6c, 0x73, CONSOLE_ESCAPE, 0x78])); // "ls", detach, "x" never sent
    expect(await session).toBe('detached');
    await new Promise((r) => setTimeout(r, 20));
    expect(fromTerminal).toBe('root\rls');
  });

  it('ends when QEMU closes the socket', async () => {
    const session = attachConsole({ socket: join(dir, 'serial.sock'), input: new PassThrough(), output: new PassThrough() });
    for (let i = 0; i < 50 && !guestSide; i++) await new Promise((r) => setTimeout(r, 10));
    guestSide!.end();
    expect(await session).toBe('closed');
  });

  it('detaches when the terminal input ends', async () => {
    const input = new PassThrough();
    const session = attachConsole({ socket: join(dir, 'serial.sock'), input, output: new PassThrough() });
    for (let i = 0; i < 50 && !guestSide; i++) await new Promise((r) => setTimeout(r, 10));
    input.end('bye');
    expect(await session).toBe('detached');
  });

  it('says which socket it could not open', async () => {
    await expect(attachConsole({ socket: join(dir, 'nope.sock'), input: new PassThrough(), output: new PassThrough() })).rejects.toThrow(/cannot open the serial console .*nope\.sock/);
  });
});
