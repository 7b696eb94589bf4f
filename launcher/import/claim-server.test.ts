import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sourceServerName } from '../../api/contract/claim-source.js';
import { importerClientTls, testAuthority, testClient, writeSourceCredentials, type LauncherAuthority } from '../../harness/pki.js';
import { startClaimServer, type ClaimServer } from './claim-server.js';

const UID = '3f1a2b3c-4d5e-4f60-8172-839405a6b7c8';
const OTHER = '9e8d7c6b-5a49-4837-a625-140312f0e1d2';
const DISK = randomBytes(64 * 1024);

let dir: string;
let authority: LauncherAuthority;
let server: ClaimServer;
let mine: { cert: string; key: string };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function call(method: string, path: string, who: { cert?: string; key?: string }, headers: Record<string, string> = {}, servername = sourceServerName(UID)): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${server.url}${path}`, { method, headers, agent: false, ca: authority.ca.certPem, servername, ...who }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const reason = (r: Reply) => (JSON.parse(r.body.toString()) as { reason: string }).reason;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-claim-server-'));
  authority = await testAuthority();
  const tls = await writeSourceCredentials(authority, { name: 'debian', namespace: 'team-b', uid: UID }, join(dir, 'credentials'));
  await writeFile(join(dir, 'disk.img'), DISK);
  server = await startClaimServer({ port: 0, host: '127.0.0.1', tls, imageUid: UID, path: join(dir, 'disk.img') });
  const { cert, key } = await importerClientTls(authority, UID);
  mine = { cert, key };
});

afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the source pod server', () => {
  it('gives the importer of its image the size (HEAD), the whole disk (GET) and one range of it', async () => {
    const head = await call('HEAD', '/disk', mine);
    expect(head.status).toBe(200);
    expect(head.headers).toMatchObject({ 'content-length': String(DISK.length), 'accept-ranges': 'bytes' });
    expect(head.body.length).toBe(0);
    const all = await call('GET', '/disk', mine);
    expect(all.status).toBe(200);
    expect(all.body.equals(DISK)).toBe(true);
    const part = await call('GET', '/disk', mine, { range: 'bytes=1000-' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-${DISK.length - 1}/${DISK.length}`);
    expect(part.body.equals(DISK.subarray(1000))).toBe(true);
  });

  it('sends the whole disk again when If-Range names another version of it', async () => {
    const stale = await call('GET', '/disk', mine, { range: 'bytes=10-', 'if-range': '"not-this-one"' });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(DISK.length);
    const etag = (await call('HEAD', '/disk', mine)).headers.etag as string;
    expect((await call('GET', '/disk', mine, { range: 'bytes=10-', 'if-range': etag })).status).toBe(206);
  });

  it.each([
    ['bytes=-5-10', 400, 'InvalidRange'],
    ['bytes=20-10', 400, 'InvalidRange'],
    ['bytes=0-10,5-20', 416, 'RangeNotSatisfiable'],
    [`bytes=${DISK.length}-`, 416, 'RangeNotSatisfiable'],
    ['bytes=99999999999-', 416, 'RangeNotSatisfiable'],
  ])('refuses the range %s with %d %s, sending no byte of the disk', async (range, status, why) => {
    const reply = await call('GET', '/disk', mine, { range });
    expect(reply.status).toBe(status);
    expect(reason(reply)).toBe(why);
    expect(reply.body.length).toBeLessThan(300);
  });

  it('refuses the importer of another image, the operator, and anyone without a client certificate', async () => {
    const other = await importerClientTls(authority, OTHER);
    const foreign = await call('GET', '/disk', { cert: other.cert, key: other.key });
    expect(foreign.status).toBe(403);
    expect(reason(foreign)).toBe('ClientNotAllowed');
    expect(foreign.body.toString()).toContain(`kubevmm-importer ${OTHER}`);
    const client = await testClient(authority);
    const operator = await call('GET', '/disk', { cert: client.cert, key: client.key });
    expect(operator.status).toBe(403);
    expect((await call('GET', '/disk', {})).status).toBe(401);
    const { cert, key } = await importerClientTls(await testAuthority('another-ca'), UID);
    expect((await call('GET', '/disk', { cert, key })).status).toBe(401);
  });

  it('serves no other path and no other method, whatever the name', async () => {
    for (const path of ['/', '/disk/', '/disk.img', '/../disk.img', '/%2e%2e/etc/passwd', '/status']) {
      const reply = await call('GET', path, mine);
      expect([path, reply.status]).toEqual([path, 403]);
    }
    expect((await call('PUT', '/disk', mine)).status).toBe(403);
    expect((await call('DELETE', '/disk', mine)).status).toBe(403);
  });

  it('carries the name only this image’s source has: an importer checking for another image’s source refuses it', async () => {
    await expect(call('HEAD', '/disk', mine, {}, sourceServerName(OTHER))).rejects.toThrow(/altnames|Hostname/i);
  });
});
