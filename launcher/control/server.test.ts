import { mkdtemp, rename, rm } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { vmMetricsReport } from '../../api/contract/control.js';
import { launcherServerName } from '../../api/layout.js';
import { servingCertAsClient, testAuthority, testClient, writeLauncherCredentials, type ClientTls, type CredentialFiles, type LauncherAuthority } from '../../harness/pki.js';
import { control, type Caller } from '../../test/launcher/helpers/control.js';
import { HotplugError, VmStateError } from '../runtime/errors.js';
import type { AttachRequest, DiskStatus, RunOutcome, VmController, LauncherStatus } from '../runtime/status.js';
import { startControlServer, type ControlServer } from './server.js';

/** A VM model just rich enough to check that each endpoint maps onto the controller. */
class FakeVmm implements VmController {
  state: LauncherStatus['state'] = 'running';
  disks: DiskStatus[] = [{ name: 'root', phase: 'Attached', target: 'vda' }];
  stops = 0;
  resets = 0;

  status(): LauncherStatus {
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

const VM = { name: 'web', namespace: 'ns', uid: '6f1f8f0e-3b7a-4c55-9f3e-1d2a3b4c5d6e' };

let authority: LauncherAuthority;
let operator: ClientTls;

beforeAll(async () => {
  authority = await testAuthority();
  operator = await testClient(authority);
});

describe('control server', () => {
  let dir: string;
  let files: CredentialFiles;
  let vmm: FakeVmm;
  let server: ControlServer;
  const lines: string[] = [];

  const as = (client: ClientTls | undefined, extra: Partial<Caller> = {}): Caller => ({ ca: authority.ca.certPem, vmUid: VM.uid, ...(client ? { cert: client.cert, key: client.key } : {}), ...extra });
  const call = (method: string, path: string, opts: { as?: Caller; body?: unknown } = {}) => control(server.url, method, path, opts.as ?? as(operator), opts.body);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'control-'));
    files = await writeLauncherCredentials(authority, VM, join(dir, 'credentials'));
    vmm = new FakeVmm();
    lines.length = 0;
    const metrics = {
      render: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'kubevmm_vm_info{vm="web"} 1\n' }),
      report: async () => ({ time: '2026-01-01T00:00:01.000Z', state: vmm.state, cpu: { qemuSeconds: 1.5 }, memory: {}, failed: ['proc'] }),
    };
    server = await startControlServer({ vmm, port: 0, host: '127.0.0.1', tls: files, metrics, tlsReloadMs: 100, log: (l) => lines.push(l) });
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses plain HTTP on the control port with 400 TlsRequired, and nothing behind it runs', async () => {
    const plain = server.url.replace(/^https:/, 'http:');
    const pause = await fetch(`${plain}/pause`, { method: 'POST' });
    expect(pause.status).toBe(400);
    expect(await pause.json()).toEqual({ reason: 'TlsRequired', message: expect.stringMatching(/HTTPS only/) });
    expect(vmm.state).toBe('running');
    // Not even the open endpoints: a probe left on scheme HTTP fails and says why.
    expect((await fetch(`${plain}/readyz`)).status).toBe(400);
  });

  it('answers /readyz as the kubelet probes it (HTTPS, no verification, no client certificate): 200 while running, 503 otherwise', async () => {
    const kubelet = as(undefined, { verify: false, ca: '' });
    expect(await call('GET', '/readyz', { as: kubelet })).toMatchObject({ status: 200, text: 'ok\n' });
    vmm.state = 'paused';
    expect(await call('GET', '/readyz', { as: kubelet })).toMatchObject({ status: 503, text: 'not ready\n' });
  });

  it('serves /metrics to a scraper without a client certificate', async () => {
    expect(await call('GET', '/metrics', { as: as(undefined) })).toMatchObject({ status: 200, text: 'kubevmm_vm_info{vm="web"} 1\n' });
  });

  it('serves /vm-metrics as JSON only to a client with a certificate from the launcher CA', async () => {
    const res = await call('GET', '/vm-metrics');
    expect(res).toMatchObject({ status: 200, contentType: 'application/json' });
    expect(vmMetricsReport.parse(res.body)).toEqual({ time: '2026-01-01T00:00:01.000Z', state: 'running', cpu: { qemuSeconds: 1.5 }, memory: {}, failed: ['proc'] });
    expect(await call('GET', '/vm-metrics', { as: as(undefined) })).toMatchObject({ status: 401, body: { reason: 'ClientCertificateRequired' } });
    expect((await call('POST', '/vm-metrics')).status).toBe(405);
  });

  it('refuses every other endpoint without a client certificate (401 ClientCertificateRequired)', async () => {
    const res = await call('POST', '/pause', { as: as(undefined) });
    expect(res).toMatchObject({ status: 401, body: { reason: 'ClientCertificateRequired' } });
    expect((await call('GET', '/status', { as: as(undefined) })).status).toBe(401);
    expect(vmm.state).toBe('running');
  });

  it('refuses a client certificate from another CA (401 ClientCertificateRejected)', async () => {
    const stranger = await testClient(await testAuthority('another-ca'));
    const res = await call('POST', '/pause', { as: as(stranger) });
    expect(res).toMatchObject({ status: 401, body: { reason: 'ClientCertificateRejected' } });
    expect(res.body.message).toMatch(/not accepted/);
    expect(vmm.state).toBe('running');
  });

  it("refuses another launcher's serving certificate from the same CA as a client certificate", async () => {
    const res = await call('POST', '/pause', { as: as(await servingCertAsClient(authority)) });
    expect(res).toMatchObject({ status: 401, body: { reason: 'ClientCertificateRejected' } });
    expect(vmm.state).toBe('running');
  });

  it('lets a client with a certificate from the launcher CA through, and names it in the audit line', async () => {
    expect(await call('GET', '/status')).toMatchObject({ status: 200, body: { state: 'running', accelerator: 'tcg' } });
    expect(await call('POST', '/pause')).toMatchObject({ status: 200, body: { state: 'paused' } });
    expect(lines).toContain('control: POST /pause by kubevmm-operator: 200');
  });

  it("gives the subresource server's certificate the streams and the metrics report only: it cannot stop, reset, pause or attach", async () => {
    const subresources = as(await testClient(authority, 'kubevmm-subresources'));
    expect((await call('GET', '/vm-metrics', { as: subresources })).status).toBe(200);
    for (const [method, path] of [['POST', '/shutdown'], ['POST', '/reset'], ['POST', '/pause'], ['GET', '/status'], ['POST', '/disks'], ['DELETE', '/disks/root'], ['GET', '/vm-metrics/../status']]) {
      const res = await call(method!, path!, { as: subresources, body: method === 'POST' ? {} : undefined });
      expect([method, path, res.status, res.body.reason]).toEqual([method, path, 403, 'ClientNotAllowed']);
    }
    expect(vmm.state).toBe('running');
    // a certificate from the launcher CA for a client the API does not know gets nothing
    const stranger = as(await testClient(authority, 'someone-else'));
    expect(await call('GET', '/vm-metrics', { as: stranger })).toMatchObject({ status: 403, body: { reason: 'ClientNotAllowed', message: expect.stringContaining('someone-else') } });
  });

  it('is refused by a client that expects the launcher of another VM (its UID is in the certificate)', async () => {
    await expect(call('GET', '/status', { as: as(operator, { vmUid: '00000000-0000-4000-8000-000000000000' }) })).rejects.toThrow(/does not match certificate|altnames/i);
  });

  it('serves status, pause, resume and reset', async () => {
    expect(await call('POST', '/pause')).toMatchObject({ status: 200, body: { state: 'paused' } });
    expect(await call('POST', '/resume')).toMatchObject({ status: 200, body: { state: 'running' } });
    expect((await call('POST', '/reset')).status).toBe(200);
    expect(vmm.resets).toBe(1);
  });

  it('answers 409 with the reason when the state forbids the operation', async () => {
    vmm.state = 'stopping';
    expect(await call('POST', '/pause')).toMatchObject({ status: 409, body: { reason: 'WrongState', message: 'cannot pause while the vm is stopping' } });
  });

  it('accepts a shutdown (202) and leaves it running in the background', async () => {
    expect(await call('POST', '/shutdown')).toMatchObject({ status: 202, body: { state: 'stopping' } });
    expect(vmm.stops).toBe(1);
  });

  it('attaches and detaches disks, validating the body', async () => {
    expect(await call('POST', '/disks', { body: { name: 'data', path: '/images/data.img' } })).toMatchObject({
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

  it('serves a renewed certificate once its Secret volume files change, without a restart', async () => {
    const servedSerial = () =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: server.port, ca: authority.ca.certPem, servername: launcherServerName(VM.uid) }, () => {
          resolve(new X509Certificate(socket.getPeerX509Certificate()!.raw).serialNumber);
          socket.end();
        });
        socket.on('error', reject);
      });
    const before = await servedSerial();
    // The kubelet swaps a Secret volume's files at once: write the new set aside, then rename.
    const next = await writeLauncherCredentials(authority, VM, join(dir, 'next'));
    await Promise.all([rename(next.certFile, files.certFile), rename(next.keyFile, files.keyFile)]);
    const deadline = Date.now() + 5000;
    let after = before;
    while (after === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await servedSerial();
    }
    expect(after).not.toBe(before);
    expect(lines).toContain('control: TLS certificate reloaded');
    expect((await call('GET', '/status')).status).toBe(200);
  });
});
