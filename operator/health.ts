/**
 * The operator's probe and scrape endpoint: /healthz (liveness), /readyz (readiness: the
 * informers have synced; a standby replica that is not the leader is still ready, so a
 * rollout does not wait on leadership) and /metrics (Prometheus text).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listen } from './listen.js';
import type { OperatorMetrics } from './metrics.js';

export interface HealthServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Listen address; all interfaces when unset (probes come from the kubelet to the pod IP). */
  host?: string;
  metrics: Pick<OperatorMetrics, 'render'>;
  ready: () => boolean;
  /** True/false, or the reasons the process is not healthy (none: healthy). */
  healthy: () => boolean | readonly string[];
}

export interface HealthServer {
  /** Base URL, e.g. http://127.0.0.1:8080 (loopback when listening on all interfaces). */
  url: string;
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens. */
export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const server = createServer((req, res) => void handle(opts, req, res));
  const { port, urlHost } = await listen(server, opts.port, opts.host);
  return {
    url: `http://${urlHost}:${port}`,
    close: async () => {
      // Scrapers keep connections alive; without this close() would wait for them.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

async function handle(opts: HealthServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  try {
    switch (path) {
      case '/healthz':
        return probe(res, opts.healthy);
      case '/readyz':
        return probe(res, opts.ready);
      case '/metrics': {
        const { contentType, body } = await opts.metrics.render();
        return send(res, 200, body, contentType);
      }
      default:
        return send(res, 404, 'not found\n');
    }
  } catch (err) {
    send(res, 500, `error: ${String(err)}\n`);
  }
}

/** 200 "ok" or 500 with the reasons (a check that throws counts as failing). */
function probe(res: ServerResponse, check: () => boolean | readonly string[]): void {
  let problems: readonly string[];
  try {
    const result = check();
    problems = typeof result === 'boolean' ? (result ? [] : ['not ok']) : result;
  } catch (err) {
    problems = [`check failed: ${String(err)}`];
  }
  send(res, problems.length ? 500 : 200, problems.length ? `${problems.join('\n')}\n` : 'ok\n');
}

function send(res: ServerResponse, code: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(code, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
