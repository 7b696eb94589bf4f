import { EventEmitter } from 'node:events';
import { Duplex, PassThrough } from 'node:stream';
import { bridgeTerminal, CONSOLE_ESCAPE, enterRawMode, onStopSignal, type TerminalInput } from './terminal.js';

/** A terminal that records its mode changes. */
function fakeTty(isTTY = true): TerminalInput & { modes: boolean[] } {
  const input = new PassThrough() as unknown as TerminalInput & { modes: boolean[] };
  input.modes = [];
  input.isTTY = isTTY;
  input.setRawMode = (raw: boolean) => input.modes.push(raw);
  return input;
}

/** The guest's side of a console: `guest` is what the test writes as the guest, `typed` what reached it. */
function guestPair(): { stream: Duplex; guest: PassThrough; typed: () => string } {
  const guest = new PassThrough();
  const keys = new PassThrough();
  let typed = '';
  keys.on('data', (c: Buffer) => (typed += c.toString('latin1')));
  return { stream: Duplex.from({ readable: guest, writable: keys }), guest, typed: () => typed };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('raw mode', () => {
  it('is entered on a terminal and restored once, however many exit paths call restore', () => {
    const events = new EventEmitter();
    const input = fakeTty();
    const mode = enterRawMode(input, events);
    expect(mode.raw).toBe(true);
    mode.restore();
    mode.restore();
    events.emit('exit');
    expect(input.modes).toEqual([true, false]);
    expect(events.listenerCount('exit')).toBe(0);
  });

  it('is restored when the process exits without restore being called (a crash, an exit elsewhere)', () => {
    const events = new EventEmitter();
    const input = fakeTty();
    enterRawMode(input, events);
    events.emit('exit');
    expect(input.modes).toEqual([true, false]);
  });

  it('leaves a pipe alone', () => {
    const events = new EventEmitter();
    const input = fakeTty(false);
    const mode = enterRawMode(input, events);
    mode.restore();
    expect(mode.raw).toBe(false);
    expect(input.modes).toEqual([]);
    expect(events.listenerCount('exit')).toBe(0);
  });
});

describe('stop signals', () => {
  it('are SIGINT, SIGTERM and SIGHUP, until unregistered', () => {
    const events = new EventEmitter();
    const seen: string[] = [];
    const off = onStopSignal((s) => seen.push(s), events);
    events.emit('SIGHUP');
    events.emit('SIGTERM');
    events.emit('SIGINT');
    off();
    events.emit('SIGINT');
    expect(seen).toEqual(['SIGHUP', 'SIGTERM', 'SIGINT']);
    expect(['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => events.listenerCount(s))).toEqual([0, 0, 0]);
  });
});

describe('bridgeTerminal', () => {
  it('shows the guest, sends keys, and on Ctrl-] sends what came before it and ends the stream', async () => {
    const { stream, guest, typed } = guestPair();
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (c: Buffer) => (shown += c.toString()));
    const session = bridgeTerminal({ stream, input, output, escape: CONSOLE_ESCAPE });
    guest.write('login: ');
    await tick();
    expect(shown).toBe('login: ');
    input.write('root\r');
    input.write(Buffer.from([0x6c, 0x73, CONSOLE_ESCAPE, 0x78]));
    expect(await session).toBe('detached');
    await tick();
    expect(typed()).toBe('root\rls');
    expect(stream.writableEnded).toBe(true);
  });

  it('passes 0x1d through when there is no escape (a pipe carrying binary)', async () => {
    const { stream, guest, typed } = guestPair();
    const input = new PassThrough();
    const session = bridgeTerminal({ stream, input, output: new PassThrough(), escape: null });
    input.write(Buffer.from([0x61, CONSOLE_ESCAPE, 0x62]));
    await tick();
    guest.end();
    expect(await session).toBe('ended');
    expect(typed()).toBe('a\x1db');
  });

  it('detaches when the input ends, after sending what it carried', async () => {
    const { stream, typed } = guestPair();
    const input = new PassThrough();
    const session = bridgeTerminal({ stream, input, output: new PassThrough(), escape: CONSOLE_ESCAPE });
    input.end('echo hi\n');
    expect(await session).toBe('detached');
    await tick();
    expect(typed()).toBe('echo hi\n');
  });

  it('rejects with the stream failure and stops reading the keyboard', async () => {
    const { stream } = guestPair();
    const input = new PassThrough();
    const session = bridgeTerminal({ stream, input, output: new PassThrough(), escape: CONSOLE_ESCAPE });
    stream.destroy(new Error('the stream failed: launcher gone'));
    await expect(session).rejects.toThrow('launcher gone');
    expect(input.isPaused()).toBe(true);
    expect(input.listenerCount('data')).toBe(0);
  });

  it('pauses the keyboard while the stream cannot take more, and resumes on drain', async () => {
    let release: () => void = () => undefined;
    const stream = new Duplex({ writableHighWaterMark: 4, read: () => undefined, write: (_chunk, _enc, cb) => (release = () => cb()) });
    const input = new PassThrough();
    void bridgeTerminal({ stream, input, output: new PassThrough(), escape: CONSOLE_ESCAPE }).catch(() => undefined);
    input.write('more than four bytes');
    await tick();
    expect(input.isPaused()).toBe(true);
    release();
    await tick();
    expect(input.isPaused()).toBe(false);
    stream.destroy();
  });
});
