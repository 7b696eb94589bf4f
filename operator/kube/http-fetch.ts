/**
 * `fetch` for the launchers' control API over node:http, one connection per request.
 *
 * Node's own fetch (undici 6 in Node 20) keeps a connection pool per origin in its global
 * agent and does not let go of it: ~20 KB of heap per launcher address, measured at 100 MiB
 * for 5000 VMs (bench/README.md), and more with every restarted pod's new IP. The operator
 * talks to each launcher once per reconcile, over plain HTTP inside the cluster, so a
 * connection per call costs little and keeps nothing per address. Only what LauncherClient
 * uses is supported: method, headers, a string body, an AbortSignal; the answer is a real
 * `Response`. An aborted call rejects with the signal's reason (a TimeoutError for
 * AbortSignal.timeout), as fetch does.
 */
import { request } from 'node:http';

/** The subset of fetch's init that the control API calls use. */
export interface HttpFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** GET/POST/DELETE `url` on a fresh connection; resolves with the whole answer. */
export function httpFetch(url: string | URL, init: HttpFetchInit = {}): Promise<Response> {
  const { signal } = init;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        signal?.removeEventListener('abort', onAbort);
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
        resolve(new Response(res.statusCode === 204 ? null : Buffer.concat(chunks), { status: res.statusCode ?? 0, headers }));
      });
      res.on('error', fail);
    });
    function fail(err: Error): void {
      signal?.removeEventListener('abort', onAbort);
      reject(signal?.aborted ? signal.reason : err);
    }
    function onAbort(): void {
      req.destroy();
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', fail);
    req.end(init.body);
  });
}
