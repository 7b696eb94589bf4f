import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QmpClient } from './client.js';
import { connectQmp } from './connect.js';
import {
  QmpClosedError,
  QmpCommandError,
  QmpError,
  QmpProtocolError,
  QmpTimeoutError,
} from './errors.js';
import { FakeQmpServer } from '../../test/fakes/qmp-server.js';
import type { ReceivedCommand } from '../../test/fakes/qmp-server.js';
import type { QmpEvent } from './protocol.js';

let dir: string;
let server: FakeQmpServer;
let client: QmpClient;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-qmp-'));
  server = await FakeQmpServer.start({ path: join(dir, 'qmp.sock') });
  client = await connectQmp(join(dir, 'qmp.sock'), { timeoutMs: 2000 });
});

afterEach(async () => {
  await client.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** Collect commands until `count` arrived, then hand them to `answer`. */
function holdCommands(count: number, answer: (held: ReceivedCommand[]) => void): void {
  const held: ReceivedCommand[] = [];
  server.onCommand = (command) => {
    held.push(command);
    if (held.length === count) answer(held);
  };
}

describe('handshake', () => {
  it('reads the greeting and sends qmp_capabilities before anything else', () => {
    expect(client.greeting).toEqual({
      version: { qemu: { major: 7, minor: 2, micro: 0 }, package: 'fake' },
      capabilities: ['oob'],
    });
    expect(server.commands.map((c) => c.execute)).toEqual(['qmp_capabilities']);
    expect(client.closed).toBe(false);
  });
});

describe('execute', () => {
  it('resolves with the return value and sends arguments', async () => {
    server.onCommand = (command, conn) => conn.reply(command, { echoed: command.arguments });
    await expect(client.execute('echo', { id: 'disk0' })).resolves.toEqual({ echoed: { id: 'disk0' } });
    expect(server.commands[1]).toMatchObject({ execute: 'echo', arguments: { id: 'disk0' } });
  });

  it('correlates out-of-order replies by id', async () => {
    holdCommands(3, ([a, b, c]) => {
      server.connection.reply(c!, 'third');
      server.connection.reply(a!, 'first');
      server.connection.reply(b!, 'second');
    });
    const results = await Promise.all([client.execute('a'), client.execute('b'), client.execute('c')]);
    expect(results).toEqual(['first', 'second', 'third']);
  });

  it('handles a reply delivered one byte at a time', async () => {
    server.onCommand = (command, conn) => {
      const frame = Buffer.from(`${JSON.stringify({ return: { status: 'running' }, id: command.id })}\r\n`);
      for (let i = 0; i < frame.length; i++) conn.writeRaw(frame.subarray(i, i + 1));
    };
    await expect(client.execute('query-status')).resolves.toEqual({ status: 'running' });
  });

  it('handles replies and events coalesced into one write', async () => {
    const events: string[] = [];
    client.on('event', (ev) => events.push(ev.event));
    holdCommands(2, ([a, b]) => {
      const frames = [
        { timestamp: { seconds: 1, microseconds: 0 }, event: 'RESUME' },
        { return: 1, id: a!.id },
        { timestamp: { seconds: 2, microseconds: 0 }, event: 'STOP' },
        { return: 2, id: b!.id },
      ];
      server.connection.writeRaw(frames.map((f) => `${JSON.stringify(f)}\r\n`).join(''));
    });
    await expect(Promise.all([client.execute('a'), client.execute('b')])).resolves.toEqual([1, 2]);
    expect(events).toEqual(['RESUME', 'STOP']);
  });

  it('rejects an error reply with a typed QmpCommandError', async () => {
    server.onCommand = (command, conn) => conn.fail(command, 'DeviceNotFound', "Device 'nope' not found");
    const error = await client.execute('device_del', { id: 'nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QmpCommandError);
    expect(error).toBeInstanceOf(QmpError);
    expect(error).toMatchObject({
      reason: 'QmpCommandFailed',
      command: 'device_del',
      errorClass: 'DeviceNotFound',
      desc: "Device 'nope' not found",
    });
  });

  it('times out, drops the late reply, and keeps working', async () => {
    let late: ReceivedCommand | undefined;
    server.onCommand = (command, conn) => {
      if (command.execute === 'slow') late = command;
      else conn.reply(command, 'fast');
    };
    const error = await client.execute('slow', undefined, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QmpTimeoutError);
    expect(error).toMatchObject({ reason: 'QmpTimeout', operation: 'slow', timeoutMs: 50 });
    server.connection.reply(late!, 'too late');
    await expect(client.execute('quick')).resolves.toBe('fast');
  });

  it('uses increasing numeric ids', async () => {
    await client.execute('a');
    await client.execute('b');
    const ids = server.commands.map((c) => c.id as number);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('events', () => {
  it('delivers events in order with data and timestamp', async () => {
    const seen: QmpEvent[] = [];
    client.on('event', (ev) => seen.push(ev));
    server.connection.event('STOP');
    server.connection.event('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
    await client.waitForEvent('SHUTDOWN', undefined, 1000);
    expect(seen).toEqual([
      { event: 'STOP', data: {}, timestamp: { seconds: 1700000000, microseconds: 42 } },
      {
        event: 'SHUTDOWN',
        data: { guest: true, reason: 'guest-shutdown' },
        timestamp: { seconds: 1700000000, microseconds: 42 },
      },
    ]);
  });

  it('waitForEvent skips events that do not match the predicate', async () => {
    const deleted = client.waitForEvent('DEVICE_DELETED', (ev) => ev.data.device === 'disk2', 1000);
    server.connection.event('DEVICE_DELETED', { device: 'disk1', path: '/machine/peripheral/disk1' });
    server.connection.event('DEVICE_DELETED', { path: '/machine/peripheral/disk2/virtio-backend' });
    server.connection.event('DEVICE_DELETED', { device: 'disk2', path: '/machine/peripheral/disk2' });
    await expect(deleted).resolves.toMatchObject({ data: { device: 'disk2' } });
    expect(client.listenerCount('event')).toBe(0);
  });

  it('waitForEvent catches an event sent just before the reply', async () => {
    server.onCommand = (command, conn) => {
      conn.event('RESUME');
      conn.reply(command);
    };
    const resumed = client.waitForEvent('RESUME', undefined, 1000);
    await client.execute('cont');
    await expect(resumed).resolves.toMatchObject({ event: 'RESUME' });
  });

  it('waitForEvent times out with QmpTimeoutError and removes its listeners', async () => {
    const error = await client.waitForEvent('SHUTDOWN', undefined, 30).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QmpTimeoutError);
    expect(error).toMatchObject({ operation: 'event:SHUTDOWN' });
    expect(client.listenerCount('event')).toBe(0);
    expect(client.listenerCount('closed')).toBe(0);
  });

  it('waitForEvent rejects with the abort reason', async () => {
    const controller = new AbortController();
    const waiting = client.waitForEvent('SHUTDOWN', undefined, 1000, controller.signal);
    controller.abort(new Error('qemu exited'));
    await expect(waiting).rejects.toThrow('qemu exited');
  });

  it('waitForEvent rejects when the predicate throws, without breaking the connection', async () => {
    const waiting = client.waitForEvent(
      'STOP',
      () => {
        throw new Error('bad predicate');
      },
      1000,
    );
    server.connection.event('STOP');
    await expect(waiting).rejects.toThrow('bad predicate');
    await expect(client.execute('still-alive')).resolves.toEqual({});
  });
});

describe('close', () => {
  it('close() rejects pending commands and waits, and emits closed once', async () => {
    server.onCommand = () => undefined;
    const closedEvents: QmpClosedError[] = [];
    client.on('closed', (err) => closedEvents.push(err));
    const pending = client.execute('never').catch((e: unknown) => e);
    const waiting = client.waitForEvent('SHUTDOWN').catch((e: unknown) => e);
    await client.close();
    expect(await pending).toBeInstanceOf(QmpClosedError);
    expect(await waiting).toBeInstanceOf(QmpClosedError);
    await client.close();
    expect(closedEvents).toHaveLength(1);
    expect(closedEvents[0]).toMatchObject({ reason: 'QmpConnectionClosed' });
    expect(client.closed).toBe(true);
    await expect(client.execute('after')).rejects.toBeInstanceOf(QmpClosedError);
  });

  it('the peer closing rejects pending commands', async () => {
    server.onCommand = (_command, conn) => conn.end();
    const closed = new Promise<QmpClosedError>((resolve) => client.once('closed', resolve));
    await expect(client.execute('quit')).rejects.toBeInstanceOf(QmpClosedError);
    await expect(closed).resolves.toMatchObject({ message: 'QMP connection closed by peer' });
  });

  it('garbage from the peer closes the connection with a protocol error as cause', async () => {
    server.onCommand = (_command, conn) => conn.writeRaw('this is not json\r\n');
    const error = await client.execute('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QmpClosedError);
    expect((error as QmpClosedError).cause).toBeInstanceOf(QmpProtocolError);
    expect(client.closed).toBe(true);
  });
});
