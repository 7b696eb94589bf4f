import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpFetch } from './http-fetch.js';
import { LauncherClient } from './launcher-client.js';

let server: Server;
let base = '';
let connections = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/slow') return void setTimeout(() => res.end('{}'), 2000);
      if (req.url === '/missing') return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such disk"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ state: 'running', accelerator: 'tcg', method: req.method, auth: req.headers.authorization, body }));
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('httpFetch', () => {
  it('sends method, headers and body and answers a Response; each call on its own connection, so nothing is kept per address', async () => {
    const before = connections;
    const res = await httpFetch(`${base}/disks`, { method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: '{"name":"data"}' });
    expect(res.ok).toBe(true);
    expect(await res.json()).toMatchObject({ method: 'POST', auth: 'Bearer t', body: '{"name":"data"}' });
    await (await httpFetch(`${base}/status`)).text();
    expect(connections - before).toBe(2);
  });

  it('passes an error status through, as fetch does', async () => {
    const res = await httpFetch(`${base}/missing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'no such disk' });
  });

  it('rejects with the signal’s TimeoutError when the answer is late, and with the network error when nothing listens', async () => {
    await expect(httpFetch(`${base}/slow`, { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: 'TimeoutError' });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await expect(httpFetch(`http://127.0.0.1:${port}/status`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('serves LauncherClient’s status calls', async () => {
    const port = Number(new URL(base).port);
    const client = new LauncherClient({ timeoutMs: 100, quietMs: 60_000, port, fetch: httpFetch });
    await expect(client.status('127.0.0.1', 't')).resolves.toMatchObject({ state: 'running', accelerator: 'tcg' });
  });
});
