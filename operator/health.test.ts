import { request } from 'node:http';
import { startHealthServer, type HealthServer } from './health.js';
import { createMetrics } from './metrics.js';

let server: HealthServer | undefined;
let ready = false;
let healthy = true;

beforeEach(() => {
  ready = false;
  healthy = true;
});

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(): Promise<HealthServer> {
  const metrics = createMetrics({ queueDepth: () => 7 });
  metrics.leader.set(1);
  server = await startHealthServer({ port: 0, host: '127.0.0.1', metrics, ready: () => ready, healthy: () => healthy });
  return server;
}

async function get(path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`${server?.url}${path}`, { method });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

test('/healthz follows healthy()', async () => {
  await start();
  expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
  healthy = false;
  expect((await get('/healthz')).status).toBe(500);
});

test('/healthz names the reasons when healthy() lists problems', async () => {
  server = await startHealthServer({ port: 0, host: '127.0.0.1', metrics: createMetrics({ queueDepth: () => 0 }), ready: () => true, healthy: () => ['informer pods made no progress for 500 s'] });
  expect(await get('/healthz')).toMatchObject({ status: 500, body: 'informer pods made no progress for 500 s\n' });
});

test('/readyz follows ready(), independent of health', async () => {
  await start();
  expect((await get('/readyz')).status).toBe(500);
  ready = true;
  expect(await get('/readyz')).toMatchObject({ status: 200, body: 'ok\n' });
});

test('a check that throws counts as failing', async () => {
  server = await startHealthServer({
    port: 0,
    host: '127.0.0.1',
    metrics: createMetrics(),
    ready: () => {
      throw new Error('boom');
    },
    healthy: () => true,
  });
  expect((await get('/readyz')).status).toBe(500);
  expect((await get('/healthz')).status).toBe(200);
});

test('/metrics serves the registry as Prometheus text', async () => {
  await start();
  const res = await get('/metrics');
  expect(res.status).toBe(200);
  expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(res.body).toContain('kubevmm_workqueue_depth 7');
  expect(res.body).toContain('kubevmm_leader 1');
  expect(res.body).toContain('process_resident_memory_bytes');
});

test('unknown paths are 404, other methods 405, HEAD has no body', async () => {
  await start();
  expect((await get('/nope')).status).toBe(404);
  expect((await get('/healthz', 'POST')).status).toBe(405);
  expect(await get('/healthz', 'HEAD')).toMatchObject({ status: 200, body: '' });
});

test('close() does not wait for kept-alive scrape connections', async () => {
  await start();
  const url = new URL(`${server?.url}/metrics`);
  const agentReq = request({ host: url.hostname, port: url.port, path: url.pathname, headers: { connection: 'keep-alive' } });
  await new Promise<void>((resolve) => {
    agentReq.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    agentReq.end();
  });
  const started = Date.now();
  await server?.close();
  server = undefined;
  expect(Date.now() - started).toBeLessThan(1000);
});

test('port 0 picks a free port and the URL says which', async () => {
  await start();
  expect(server?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(server?.url).not.toMatch(/:0$/);
});
