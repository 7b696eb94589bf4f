import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HotplugError, VmStateError } from '../runtime/errors.js';
import type { AttachRequest, DiskStatus, RunOutcome, VmController, VmStatus } from '../runtime/status.js';
import { startControlServer, type ControlServer } from './server.js';
import { bearerToken, tokensMatch } from './auth.js';

/** A VM model just rich enough to check that each endpoint maps onto the controller. */
class FakeVmm implements VmController {
  state: VmStatus['state'] = 'running';
  disks: DiskStatus[] = [{ name: 'root', phase: 'Attached', target: 'vda' }];
  stops = 0;
  resets = 0;

  status(): VmStatus {
    return { state: this.state, accelerator: 'tcg', startedAt: '2026-01-01T00:00:00.000Z', disks: this.disks };
  }
  async pause(): Promise<void> {
    if (this.state !== 'running' && this.state !== 'paused') throw new VmStateError('pause', this.state);
    this.state = 'paused';
  }
  async resume(): Promise<void> {
    if (this.state !== 'running' && this.state !== 'paused') throw new VmStateError('resume', this.state);
    this.state = 'running';
  }
  async reset(): Promise<void> {
    this.resets++;
  }
  stop(): Promise<RunOutcome> {
    this.stops++;
    this.state = 'stopping';
    return new Promise(() => undefined);
  }
  async attachDisk(req: AttachRequest): Promise<DiskStatus> {
    if (this.disks.some((d) => d.name === req.name)) {
      throw new HotplugError({ disk: req.name, reason: 'DiskExists', kind: 'conflict', message: `disk ${req.name} is already attached` });
    }
    const disk: DiskStatus = { name: req.name, phase: 'Attached', target: 'vdb' };
    this.disks.push(disk);
    return disk;
  }
  async detachDisk(name: string): Promise<void> {
    if (name === 'root') throw new HotplugError({ disk: name, reason: 'NotHotplugged', kind: 'conflict', message: 'attached at start' });
    if (!this.disks.some((d) => d.name === name)) throw new HotplugError({ disk: name, reason: 'DiskNotAttached', kind: 'not-found', message: 'not attached' });
    this.disks = this.disks.filter((d) => d.name !== name);
  }
}

const TOKEN = 's3cret-token';

describe('control server', () => {
  let dir: string;
  let vmm: FakeVmm;
  let server: ControlServer;
  let tokenFile: string;

  const call = async (method: string, path: string, opts: { token?: string | null; body?: unknown } = {}) => {
    const headers: Record<string, string> = {};
    const token = opts.token === undefined ? TOKEN : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json as Record<string, unknown> };
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'control-'));
    tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    vmm = new FakeVmm();
    server = await startControlServer({ vmm, tokenFile, port: 0, host: '127.0.0.1' });
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers /readyz without a token: 200 while running, 503 otherwise, no detail', async () => {
    expect(await call('GET', '/readyz', { token: null })).toEqual({ status: 200, body: 'ok\n' });
    vmm.state = 'paused';
    expect(await call('GET', '/readyz', { token: null })).toEqual({ status: 503, body: 'not ready\n' });
  });

  it('rejects requests without or with a wrong token (401)', async () => {
    expect(await call('GET', '/status', { token: null })).toEqual({ status: 401, body: { reason: 'Unauthorized', message: 'missing bearer token' } });
    expect(await call('GET', '/status', { token: 'nope' })).toEqual({ status: 401, body: { reason: 'Unauthorized', message: 'invalid bearer token' } });
    expect((await call('POST', '/pause', { token: 'nope' })).status).toBe(401);
    expect(vmm.state).toBe('running');
  });

  it('serves status, pause, resume and reset with the token', async () => {
    expect(await call('GET', '/status')).toMatchObject({ status: 200, body: { state: 'running', accelerator: 'tcg' } });
    expect(await call('POST', '/pause')).toMatchObject({ status: 200, body: { state: 'paused' } });
    expect(await call('POST', '/resume')).toMatchObject({ status: 200, body: { state: 'running' } });
    expect((await call('POST', '/reset')).status).toBe(200);
    expect(vmm.resets).toBe(1);
  });

  it('answers 409 with the reason when the state forbids the operation', async () => {
    vmm.state = 'stopping';
    expect(await call('POST', '/pause')).toEqual({ status: 409, body: { reason: 'WrongState', message: 'cannot pause while the vm is stopping' } });
  });

  it('accepts a shutdown (202) and leaves it running in the background', async () => {
    expect(await call('POST', '/shutdown')).toMatchObject({ status: 202, body: { state: 'stopping' } });
    expect(vmm.stops).toBe(1);
  });

  it('attaches and detaches disks, validating the body', async () => {
    expect(await call('POST', '/disks', { body: { name: 'data', path: '/images/data.img' } })).toEqual({
      status: 201,
      body: { name: 'data', phase: 'Attached', target: 'vdb' },
    });
    expect(await call('POST', '/disks', { body: { name: 'data', path: '/images/data.img' } })).toMatchObject({ status: 409, body: { reason: 'DiskExists' } });
    expect(await call('DELETE', '/disks/data')).toMatchObject({ status: 200 });
    expect(await call('DELETE', '/disks/data')).toMatchObject({ status: 404, body: { reason: 'DiskNotAttached' } });
    expect(await call('DELETE', '/disks/root')).toMatchObject({ status: 409, body: { reason: 'NotHotplugged' } });
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['a bad name', { name: 'Bad_Name', path: '/x' }, /name:/],
    ['a relative path', { name: 'd', path: 'x.img' }, /path: path must be absolute/],
    ['an unknown field', { name: 'd', path: '/x', size: 1 }, /size/],
    ['a bad format', { name: 'd', path: '/x', format: 'vmdk' }, /format/],
  ])('rejects an attach body with %s (400)', async (_what, body, message) => {
    const res = await call('POST', '/disks', { body });
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe('InvalidRequest');
    expect(res.body.message).toMatch(message);
  });

  it('answers 404 for unknown paths and 405 for wrong methods', async () => {
    expect(await call('GET', '/nope')).toMatchObject({ status: 404, body: { reason: 'NotFound' } });
    expect(await call('GET', '/pause')).toMatchObject({ status: 405, body: { reason: 'MethodNotAllowed' } });
  });

  it('rejects oversized bodies (413)', async () => {
    const res = await call('POST', '/disks', { body: 'x'.repeat(100 * 1024) });
    expect(res.status).toBe(413);
  });

  it('picks up a rotated token file', async () => {
    const next = join(dir, 'token.new');
    await writeFile(next, 'rotated');
    await rename(next, tokenFile);
    expect((await call('GET', '/status')).status).toBe(401);
    expect((await call('GET', '/status', { token: 'rotated' })).status).toBe(200);
  });

  it('fails closed when the token file is missing (503)', async () => {
    await rm(tokenFile);
    expect(await call('GET', '/status')).toMatchObject({ status: 503, body: { reason: 'TokenUnavailable' } });
  });
});

describe('control server over TLS', () => {
  it('serves https with the given certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'control-tls-'));
    const [cert, key, tokenFile] = ['cert.pem', 'key.pem', 'token'].map((f) => join(dir, f)) as [string, string, string];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    await writeFile(tokenFile, TOKEN);
    const server = await startControlServer({ vmm: new FakeVmm(), tokenFile, port: 0, host: '127.0.0.1', tls: { certFile: cert, keyFile: key } });
    try {
      expect(server.url).toMatch(/^https:/);
      const status = await new Promise<number>((resolve, reject) => {
        https
          .get(`${server.url}/status`, { headers: { authorization: `Bearer ${TOKEN}` }, rejectUnauthorized: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
      expect(status).toBe(200);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('auth helpers', () => {
  it('parses bearer headers', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
  it('compares tokens, never matching an empty expected token', () => {
    expect(tokensMatch('a', 'a')).toBe(true);
    expect(tokensMatch('a', 'b')).toBe(false);
    expect(tokensMatch('a', 'aa')).toBe(false);
    expect(tokensMatch('', '')).toBe(false);
  });
});
