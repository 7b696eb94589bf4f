import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { failureStatus } from '../../api/contract/subresource.js';
import { startStandin, writeKubeconfig, type Standin } from '../../harness/subresource-standin.js';
import type { TerminalInput } from '../terminal.js';
import { runConsole } from './console.js';
import { loadContext, type ClusterContext } from './context.js';
import type { RunnerIo } from './runner-io.js';

let standin: Standin;
let ctx: ClusterContext;
let dir: string;

beforeAll(async () => {
  standin = await startStandin({
    tokens: { t: 'alice' },
    route: (request) => {
      if (request.name === 'stopped') return { refuse: failureStatus('Conflict', 'the VM is Stopped', request) };
      if (request.name === 'mirror') return { handle: () => undefined, headers: ['kubevmm-console-mode: read-only'] };
      if (request.name === 'evil-end') return { handle: (ws) => setTimeout(() => ws.close(1000, 'bye\u001b]0;owned\u0007\u001b[2J'), 50) };
      if (request.name === 'evil-fail') return { handle: (ws) => setTimeout(() => ws.close(1011, 'gone\u001b[2J\rkubevmm: fake'), 50) };
      if (request.name === 'failing') return { handle: (ws) => setTimeout(() => ws.close(1011, 'the launcher went away'), 50) };
      return { handle: (ws) => ws.on('message', (data: Buffer) => ws.send(Buffer.from(`echo:${data.toString()}`))), headers: ['kubevmm-console-mode: interactive'] };
    },
  });
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-console-'));
  ctx = loadContext({ kubeconfig: await writeKubeconfig(dir, standin, { token: 't', namespace: 'team-a' }) });
});
afterAll(async () => {
  await standin.close();
  await rm(dir, { recursive: true, force: true });
});

/** A fake terminal: raw-mode changes recorded, screen and messages collected. */
function terminal(isTTY = true) {
  const stdin = new PassThrough() as unknown as TerminalInput & PassThrough & { modes: boolean[] };
  stdin.modes = [];
  stdin.isTTY = isTTY;
  stdin.setRawMode = (raw: boolean) => stdin.modes.push(raw);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { screen: '', messages: '' };
  stdout.on('data', (c: Buffer) => (text.screen += c.toString()));
  stderr.on('data', (c: Buffer) => (text.messages += c.toString()));
  const io: RunnerIo = { stdin, stdout, stderr, events: new EventEmitter() };
  return { io, stdin, text, events: io.events as EventEmitter };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('kubevmm console', () => {
  it('puts the terminal in raw mode, echoes keys, and on Ctrl-] says detached, exits 0 and restores the terminal', async () => {
    const t = terminal();
    const session = runConsole({ verb: 'console', name: 'web' }, ctx, t.io);
    await until(() => t.stdin.modes.length > 0);
    t.stdin.write('ls\r');
    await until(() => t.text.screen.includes('echo:ls\r'));
    t.stdin.write(Buffer.from([0x1d]));
    expect(await session).toBe(0);
    expect(t.stdin.modes).toEqual([true, false]);
    expect(t.text.messages).toBe('kubevmm: connected to the console of web (Ctrl-] detaches)\n\r\nkubevmm: detached\n');
    expect(t.events.listenerCount('SIGTERM') + t.events.listenerCount('exit')).toBe(0);
  });

  it('says so when the session is a read-only mirror, and restores the terminal on SIGTERM (exit 1)', async () => {
    const t = terminal();
    const session = runConsole({ verb: 'console', name: 'mirror' }, ctx, t.io);
    await until(() => t.stdin.modes.length > 0);
    expect(t.text.messages).toContain('read-only: another session is typing on the console of mirror; you see its output and your keys go nowhere');
    t.events.emit('SIGTERM');
    expect(await session).toBe(1);
    expect(t.stdin.modes).toEqual([true, false]);
    expect(t.text.messages).toContain('kubevmm: console closed (SIGTERM)');
  });

  it('restores the terminal and exits 1 with the reason when the stream fails', async () => {
    const t = terminal();
    expect(await runConsole({ verb: 'console', name: 'failing' }, ctx, t.io)).toBe(1);
    expect(t.stdin.modes).toEqual([true, false]);
    expect(t.text.messages).toContain('kubevmm: the stream failed: the launcher went away\n');
  });

  it('never touches the terminal when the stream is refused: exit 1 with the fix', async () => {
    const t = terminal();
    expect(await runConsole({ verb: 'console', name: 'stopped' }, ctx, t.io)).toBe(1);
    expect(t.stdin.modes).toEqual([]);
    expect(t.text.messages).toMatch(/^kubevmm: virtual machine "stopped" is not running: start it with `kubevmm start stopped -n team-a`/);
  });

  it('works from a pipe: what it carries is sent, and its end detaches', async () => {
    const t = terminal(false);
    const session = runConsole({ verb: 'console', name: 'web' }, ctx, t.io);
    t.stdin.end('uptime\n');
    expect(await session).toBe(0);
    expect(t.stdin.modes).toEqual([]);
    expect(t.text.messages).toBe('kubevmm: connected to the console of web (the end of the input detaches)\nkubevmm: detached\n');
  });

  it("shows control characters in the server's close reason as ?, whether the stream ended or failed", async () => {
    const ended = terminal(false);
    await runConsole({ verb: 'console', name: 'evil-end' }, ctx, ended.io);
    expect(ended.text.messages).toContain('the console of evil-end closed: bye?]0;owned??[2J\n');
    const failed = terminal(false);
    expect(await runConsole({ verb: 'console', name: 'evil-fail' }, ctx, failed.io)).toBe(1);
    expect(failed.text.messages).toContain('kubevmm: the stream failed: gone?[2J?kubevmm: fake\n');
    expect([...(ended.text.messages + failed.text.messages)].filter((c) => c < ' ' && c !== '\n')).toEqual([]);
  });
});
