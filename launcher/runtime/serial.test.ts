import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fakeSerialPort, type FakeSerialPort } from '../../test/fakes/serial-port.js';
import { READ_ONLY_NOTICE, SerialHub } from './serial.js';

/** A console session on the hub's socket. */
async function session(path: string) {
  const socket = net.createConnection(path);
  let seen = '';
  socket.on('data', (d: Buffer) => (seen += d.toString()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, seen: () => seen };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('SerialHub', () => {
  let dir: string;
  let port: FakeSerialPort;
  let hub: SerialHub;
  const paths = () => ({ qemuSocket: join(dir, 'serial.sock'), consoleSocket: join(dir, 'console.sock'), logFile: join(dir, 'serial.log') });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'serial-'));
    port = await fakeSerialPort(paths().qemuSocket);
  });
  afterEach(async () => {
    await port.exit();
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs what the guest writes and shows it to every session; the first one types', async () => {
    hub = await SerialHub.start({ ...paths(), connectTimeoutMs: 1000 });
    await port.connected;
    const first = await session(paths().consoleSocket);
    const second = await session(paths().consoleSocket);
    await port.guestWrites('login: ');
    await until('both sessions see the prompt', () => first.seen().includes('login: ') && second.seen().includes('login: '));
    expect(second.seen()).toContain(READ_ONLY_NOTICE);
    expect(first.seen()).not.toContain(READ_ONLY_NOTICE);

    first.socket.write('root\r');
    second.socket.write('intruder\r');
    await until('the writer reached the guest', () => port.received().includes('root\r'));
    await sleep(50);
    expect(port.received()).toBe('root\r');

    await port.exit();
    await hub.close();
    expect(await readFile(paths().logFile, 'utf8')).toBe('login: ');
  });

  it('shows a late session the recent output, and lets it type once the writer left', async () => {
    hub = await SerialHub.start({ ...paths(), historyBytes: 10 });
    await port.guestWrites('boot line 1\nboot line 2\n');
    await until('history', () => hub.recent().length === 10);
    const writer = await session(paths().consoleSocket);
    await until('replay', () => writer.seen() === 'ne 2\nboot line 2\n'.slice(-10));
    writer.socket.end();
    await sleep(50);
    const next = await session(paths().consoleSocket);
    next.socket.write('x');
    await until('the next session types', () => port.received() === 'x');
    expect(next.seen()).not.toContain(READ_ONLY_NOTICE);
    next.socket.end();
  });

  it('keeps the log within its size by rotating it to .1', async () => {
    hub = await SerialHub.start({ ...paths(), logMaxBytes: 100 });
    await port.connected;
    for (let i = 0; i < 30; i++) {
      await port.guestWrites(`line ${String(i).padStart(3, '0')}\n`); // 9 bytes each
      await sleep(2);
    }
    await port.exit();
    await hub.close();
    const current = await readFile(paths().logFile, 'utf8');
    const previous = await readFile(`${paths().logFile}.1`, 'utf8');
    expect((await stat(paths().logFile)).size).toBeLessThanOrEqual(100);
    expect((await stat(`${paths().logFile}.1`)).size).toBeLessThanOrEqual(100);
    // Nothing lost or reordered at the seam, and the newest line is last.
    expect(`${previous}${current}`.endsWith('line 029\n')).toBe(true);
    const lines = `${previous}${current}`.trim().split('\n');
    expect(lines).toEqual(lines.map((_, i) => `line ${String(30 - lines.length + i).padStart(3, '0')}`));
  });

  it('fails clearly when QEMU has no serial socket', async () => {
    await expect(SerialHub.start({ ...paths(), qemuSocket: join(dir, 'missing.sock'), connectTimeoutMs: 100 })).rejects.toThrow(/cannot reach QEMU's serial socket .*missing\.sock/);
  });
});
