// HTTP and WebSocket clients for the console server's system suite: real sockets, nothing of
// the server's own code, so what they see is what a browser would.
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** One answer, its body read whole. */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends one request to the console at `origin`; `headers` as a browser would send them. */
export function fetchRaw(origin: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ hostname: url.hostname, port: url.port, method: opts.method ?? 'GET', path, headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A streamed answer: its lines as they arrive, and a way to go away (as a closed browser tab). */
export interface LineStream {
  status: number;
  /** Resolves with the first line `match` accepts, among those seen so far or still to come. */
  next(match: (line: string) => boolean, ms?: number): Promise<string>;
  abort(): void;
}

/** Opens a streamed GET (a watch) and resolves once its headers are in. */
export function streamLines(origin: string, path: string, headers: Record<string, string>): Promise<LineStream> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const waiters = new Set<() => void>();
    let rest = '';
    const req = request({ hostname: url.hostname, port: url.port, path, headers }, (res: IncomingMessage) => {
      res.on('data', (c: Buffer) => {
        const parts = (rest + c.toString('utf8')).split('\n');
        rest = parts.pop() ?? '';
        lines.push(...parts.filter(Boolean));
        waiters.forEach((w) => w());
      });
      res.on('error', () => undefined);
      resolve({
        status: res.statusCode ?? 0,
        next: (match, ms = 20_000) =>
          new Promise((done, fail) => {
            const check = () => {
              const found = lines.find(match);
              if (found === undefined) return;
              waiters.delete(check);
              clearTimeout(timer);
              done(found);
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no matching line within ${ms} ms; lines so far:\n${lines.join('\n').slice(-2000)}`));
            }, ms);
            waiters.add(check);
            check();
          }),
        abort: () => req.destroy(),
      });
    });
    req.on('error', (err) => reject(err));
    req.end();
  });
}

/** An upgraded connection: the 101 answer, and the raw bytes that follow it. */
export interface Upgraded {
  status: number;
  headers: IncomingHttpHeaders;
  socket: Socket;
  /** Resolves with the payload of the next text or binary frame (server frames are unmasked). */
  frame(ms?: number): Promise<Buffer>;
}

/** A refused upgrade: the status and body the server answered instead of 101. */
export interface Refused {
  status: number;
  body: string;
}

/**
 * Sends a WebSocket upgrade and reads the frames byte by byte, without a WebSocket library, so
 * a subprotocol the server does not echo (the API server's watch) is not an error here.
 */
export function upgrade(origin: string, path: string, headers: Record<string, string>): Promise<Upgraded | Refused> {
  const url = new URL(origin);
  const key = Buffer.from(Array.from({ length: 16 }, (_, i) => i)).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request({ hostname: url.hostname, port: url.port, path, headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': key, ...headers } });
    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      let buffered = head;
      const waiters: (() => void)[] = [];
      socket.on('data', (c: Buffer) => {
        buffered = Buffer.concat([buffered, c]);
        waiters.splice(0).forEach((w) => w());
      });
      const take = (): Buffer | undefined => {
        if (buffered.length < 2) return undefined;
        let len = buffered[1]! & 0x7f;
        let at = 2;
        if (len === 126) [len, at] = [buffered.readUInt16BE(2), 4];
        else if (len === 127) [len, at] = [Number(buffered.readBigUInt64BE(2)), 10];
        if (buffered.length < at + len) return undefined;
        const payload = buffered.subarray(at, at + len);
        buffered = buffered.subarray(at + len);
        return payload;
      };
      const frame = (ms = 20_000) =>
        new Promise<Buffer>((done, fail) => {
          const timer = setTimeout(() => fail(new Error(`no frame within ${ms} ms`)), ms);
          const check = () => {
            const got = take();
            if (got) {
              clearTimeout(timer);
              done(got);
            } else waiters.push(check);
          };
          check();
        });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, socket, frame });
    });
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The API server's count of open namespaced WATCH requests on `resource`, from its /metrics (admin's client certificate). */
export function openWatches(metrics: string, resource: string): number {
  return metrics
    .split('\n')
    .filter((l) => l.startsWith('apiserver_longrunning_requests{') && l.includes(`resource="${resource}"`) && l.includes('verb="WATCH"') && l.includes('scope="namespace"'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}
