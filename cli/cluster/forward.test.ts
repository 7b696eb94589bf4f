import { EventEmitter } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { startStandin, writeKubeconfig, type Standin } from '../../harness/subresource-standin.js';
import type { TerminalInput } from '../terminal.js';
import { loadContext } from './context.js';
import { runPortForward, runSsh } from './forward.js';
import type { RunnerIo } from './runner-io.js';

let standin: Standin;
let dir: string;
let path: string | undefined;

beforeAll(async () => {
  standin = await startStandin({ tokens: { t: 'alice' }, route: () => ({ handle: () => undefined }) });
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-forward-'));
  // An ssh that only notes that it ran, and how.
  await writeFile(join(dir, 'ssh'), `#!/bin/sh\necho "$@" >> ${join(dir, 'ssh-ran')}\n`);
  await chmod(join(dir, 'ssh'), 0o755);
  path = process.env.PATH;
  process.env.PATH = `${dir}:${path ?? ''}`;
});
afterAll(async () => {
  process.env.PATH = path;
  await standin.close();
  await rm(dir, { recursive: true, force: true });
});

function io() {
  const text = { out: '', err: '' };
  const stdout = new PassThrough().on('data', (c: Buffer) => (text.out += c.toString()));
  const stderr = new PassThrough().on('data', (c: Buffer) => (text.err += c.toString()));
  const runner: RunnerIo = { stdin: new PassThrough() as unknown as TerminalInput, stdout, stderr, events: new EventEmitter() };
  return { runner, text };
}

async function sshRan(): Promise<string> {
  return readFile(join(dir, 'ssh-ran'), 'utf8').catch(() => '');
}

describe('kubevmm ssh and port-forward', () => {
  it.each([
    ['a namespace that cannot be one', 'Team_A;x', 'root@web', /namespace: /],
    ['a VM name that cannot be one', 'team-a', 'root@web.evil -oProxyCommand=x', /name: /],
  ])('refuse %s before ssh starts or anything is sent', async (_what, namespace, target, field) => {
    const ctx = loadContext({ kubeconfig: await writeKubeconfig(dir, standin, { token: 't', namespace }) });
    const t = io();
    expect(await runSsh({ verb: 'ssh', name: target, sshArgs: [] }, ctx, t.runner)).toBe(1);
    expect(t.text.err).toMatch(/^kubevmm: cannot open portforward of /);
    expect(t.text.err).toMatch(field);
    expect(await sshRan()).toBe('');
    expect(await runPortForward({ verb: 'port-forward', name: target.split('@')[1]!, local: 0, guest: 22 }, ctx, t.runner)).toBe(1);
    expect(t.text.out).toBe(''); // never said it listens
  });
});
