// The server end to end against a stand-in API server on loopback (the system suite in
// test/ui uses the real one): what reaches the API server in each mode, streaming, WebSocket
// relaying byte for byte, refusals passed back, TLS reload, and the options it refuses.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { BEARER_PROTOCOL_PREFIX } from './headers.js';
import { browserProtocols } from '../../api/contract/subresource.js';
import { startUiServer, type UiServer } from './server.js';
import type { Upstream } from './upstream.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A stand-in API server: records requests; /hold streams until told; /ws speaks WebSocket; /refuse answers 403. */
async function fakeApi() {
  const seen: Seen[] = [];
  const held: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url?.startsWith('/hold')) {
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'x=1' });
        res.write('{"type":"ADDED"}\n');
        held.push(res);
        return;
      }
      res.writeHead(req.url?.startsWith('/refuse') ? 403 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', path: req.url }));
    });
  });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('v1.stream.kubevmm.io') ? 'v1.stream.kubevmm.io' : false) });
  server.on('upgrade', (req, socket, head) => {
    seen.push({ method: 'UPGRADE', url: req.url ?? '', headers: req.headers, body: '' });
    if (req.url?.startsWith('/refuse')) return void socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n{"reason":"nope"}');
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data: Buffer, binary) => ws.send(Buffer.concat([Buffer.from('echo:'), data]), { binary })));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return { seen, held, url, close: () => new Promise<void>((r) => { held.forEach((h) => h.destroy()); server.closeAllConnections(); server.close(() => r()); }) };
}

function get(origin: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ hostname: u.hostname, port: u.port, path, method, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('startUiServer', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  let dir: string;
  let local: UiServer;
  let cluster: UiServer;
  let session: string;
  let host: string;
  let applied = 0;

  beforeAll(async () => {
    api = await fakeApi();
    dir = await mkdtemp(join(tmpdir(), 'ui-server-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html>app');
    // The kubeconfig stand-in: a new token per request, as an exec plugin's refresh would give.
    const kubeConfig = {
      getCurrentCluster: () => ({ server: api.url.href }),
      applyToHTTPSOptions: async (opts: { headers?: Record<string, string> }) => {
        applied += 1;
        opts.headers = { ...opts.headers, Authorization: `Bearer kubeconfig-${applied}` };
      },
    };
    local = await startUiServer({ mode: 'local', staticDir: dir, kubeConfig, namespace: 'web', version: 't' });
    const upstream: Upstream = { url: api.url, prepare: async () => ({}) };
    cluster = await startUiServer({ mode: 'cluster', staticDir: dir, upstream, namespace: 'web', version: 't' });
    host = new URL(local.origin).host;
    session = `Bearer ${local.sessionToken}`;
  });
  afterAll(async () => {
    await Promise.all([local.close(), cluster.close()]);
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('local mode: the kubeconfig’s credentials, fresh per request, replace the page’s session token; no cookie reaches the API', async () => {
    const first = await get(local.origin, '/k8s/api/v1/pods?limit=1', { host, authorization: session, cookie: 'x=1' });
    const second = await get(local.origin, '/k8s/api/v1/pods', { host, authorization: session });
    expect([first.status, second.status]).toEqual([200, 200]);
    const [a, b] = api.seen.slice(-2);
    expect(a).toMatchObject({ url: '/api/v1/pods?limit=1', headers: { host: api.url.host } });
    expect([a!.headers.authorization, b!.headers.authorization]).toEqual([`Bearer kubeconfig-${applied - 1}`, `Bearer kubeconfig-${applied}`]);
    expect(a!.headers.cookie).toBeUndefined();
  });

  it('cluster mode: the browser’s Authorization passes unchanged, and nothing is added without one', async () => {
    await get(cluster.origin, '/k8s/apis/kubevmm.io/v1alpha1/virtualmachines', { authorization: 'Bearer user-token' });
    expect(api.seen.at(-1)?.headers.authorization).toBe('Bearer user-token');
    await get(cluster.origin, '/k8s/api');
    expect(api.seen.at(-1)?.headers.authorization).toBeUndefined();
  });

  it('relays any method with its body, and passes the API’s refusal back as it was', async () => {
    const patched = await get(cluster.origin, '/k8s/apis/kubevmm.io/v1alpha1/namespaces/web/virtualmachines/a', { 'content-type': 'application/merge-patch+json' }, 'PATCH', '{"spec":{"paused":true}}');
    expect(patched.status).toBe(200);
    expect(api.seen.at(-1)).toMatchObject({ method: 'PATCH', body: '{"spec":{"paused":true}}' });
    const refused = await get(cluster.origin, '/k8s/refuse/x');
    expect(refused).toMatchObject({ status: 403, body: '{"kind":"Status","path":"/refuse/x"}' });
  });

  it('streams an answer as it comes, without Set-Cookie, and cuts the API request when the browser goes away', async () => {
    const u = new URL(cluster.origin);
    const req = request({ hostname: u.hostname, port: u.port, path: '/k8s/hold?watch=1' });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    expect(res.headers['set-cookie']).toBeUndefined();
    const [first] = (await once(res, 'data')) as [Buffer];
    expect(first.toString()).toBe('{"type":"ADDED"}\n'); // before the API server ended its answer
    const upstreamClosed = once(api.held.at(-1)!, 'close');
    req.destroy();
    await upstreamClosed;
  });

  it('relays a WebSocket byte for byte: the offered and chosen subprotocols, binary frames both ways', async () => {
    const token = Buffer.from('user-token').toString('base64url');
    const ws = new WebSocket(`${cluster.origin.replace('http', 'ws')}/k8s/apis/subresources.kubevmm.io/v1alpha1/namespaces/web/virtualmachines/a/console`, ['v1.stream.kubevmm.io', `${BEARER_PROTOCOL_PREFIX}${token}`]);
    await once(ws, 'open');
    expect(ws.protocol).toBe('v1.stream.kubevmm.io');
    expect(api.seen.at(-1)?.headers['sec-websocket-protocol']).toBe(`v1.stream.kubevmm.io, ${BEARER_PROTOCOL_PREFIX}${token}`);
    ws.send(Buffer.from([0, 1, 2, 255]));
    const [data, binary] = (await once(ws, 'message')) as [Buffer, boolean];
    expect([binary, [...data]]).toEqual([true, [...Buffer.from('echo:'), 0, 1, 2, 255]]);
    ws.close();
    await once(ws, 'close');
  });

  it('local mode: a WebSocket loses the page’s bearer subprotocol (its session token) and carries the kubeconfig’s credentials', async () => {
    const ws = new WebSocket(`ws://${host}/k8s/x/vnc`, browserProtocols(local.sessionToken!), { origin: local.origin });
    await once(ws, 'open');
    expect(api.seen.at(-1)?.headers['sec-websocket-protocol']).toBe('v1.stream.kubevmm.io');
    expect(api.seen.at(-1)?.headers.authorization).toBe(`Bearer kubeconfig-${applied}`);
    ws.close();
  });

  it('passes a refused upgrade back as the API’s HTTP answer', async () => {
    const ws = new WebSocket(`${cluster.origin.replace('http', 'ws')}/k8s/refuse/console`, ['v1.stream.kubevmm.io']);
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    let body = '';
    for await (const c of res) body += String(c);
    expect([res.statusCode, body]).toEqual([403, '{"reason":"nope"}']);
    ws.on('error', () => undefined).terminate();
  });

  it('answers 502 with a Status when the API server cannot be reached', async () => {
    const down = await startUiServer({ mode: 'cluster', staticDir: dir, upstream: { url: new URL('http://127.0.0.1:1'), prepare: async () => ({}) }, namespace: 'web', version: 't' });
    try {
      const answer = await get(down.origin, '/k8s/api');
      expect(answer.status).toBe(502);
      expect(JSON.parse(answer.body)).toMatchObject({ kind: 'Status', code: 502, message: expect.stringContaining('cannot reach the API server') });
    } finally {
      await down.close();
    }
  });

  it('refuses a non-loopback address in local mode, a kubeconfig in cluster mode, and a config the contract rejects', async () => {
    const kubeConfig = { getCurrentCluster: () => ({ server: 'https://x' }), applyToHTTPSOptions: async () => undefined };
    await expect(startUiServer({ mode: 'local', staticDir: dir, kubeConfig, namespace: 'a', version: 't', address: '0.0.0.0' })).rejects.toThrow(/loopback/);
    await expect(startUiServer({ mode: 'cluster', staticDir: dir, kubeConfig, namespace: 'a', version: 't' })).rejects.toThrow(/holds no credentials/);
    await expect(startUiServer({ mode: 'local', staticDir: dir, kubeConfig, namespace: '', version: 't' })).rejects.toThrow();
  });
});
