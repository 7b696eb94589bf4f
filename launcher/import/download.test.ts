import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { download } from './download.js';
import { ImportProgress } from './progress.js';

const BODY = Buffer.from('the image bytes, as served');
const FAST = { backoff: { initialMs: 1, maxMs: 5 }, stallMs: 2000 };

/** A server answering each request with the next scripted answer (the last repeats). */
async function scripted(answers: ((req: http.IncomingMessage, res: http.ServerResponse) => void)[]): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => answers[Math.min(n++, answers.length - 1)]!(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/os.img`, hits: () => n, close: () => new Promise((r) => server.close(() => r())) };
}

const ok = (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(200, { 'content-length': BODY.length }).end(BODY);
const status = (code: number, headers: http.OutgoingHttpHeaders = {}) => (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(code, headers).end('no');

async function fetchAll(url: string, extra: Partial<Parameters<typeof download>[0]> = {}) {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const progress = new ImportProgress();
  const result = await download({ url, sink, progress, ...FAST, ...extra });
  return { result, body: Buffer.concat(chunks), progress };
}

describe('download', () => {
  it('retries 503 and 429 (honouring Retry-After) and counts the retries', async () => {
    const server = await scripted([status(503), status(429, { 'retry-after': '0' }), ok]);
    try {
      const { result, body, progress } = await fetchAll(server.url);
      expect(body.equals(BODY)).toBe(true);
      expect(result).toEqual({ bytes: BODY.length, sha256: createHash('sha256').update(BODY).digest('hex') });
      expect(progress.status()).toMatchObject({ retries: 2, bytesRead: BODY.length, bytesTotal: BODY.length });
      expect(progress.status().failure).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('does not retry 403, and gives up on a 500 that never ends, naming the count', async () => {
    const forbidden = await scripted([status(403)]);
    const broken = await scripted([status(500)]);
    try {
      await expect(fetchAll(forbidden.url)).rejects.toMatchObject({ reason: 'HttpError', permanent: true });
      expect(forbidden.hits()).toBe(1);
      await expect(fetchAll(broken.url, { maxFailuresWithoutProgress: 4 })).rejects.toMatchObject({ reason: 'HttpError', message: expect.stringMatching(/^gave up after 4 failed attempts in a row: .* answered 500$/) });
      expect(broken.hits()).toBe(4);
    } finally {
      await Promise.all([forbidden.close(), broken.close()]);
    }
  });

  it('follows redirects, relative ones too', async () => {
    const server = await scripted([(_q, res) => res.writeHead(302, { location: '/mirror/os.img' }).end(), ok]);
    try {
      expect((await fetchAll(server.url)).body.equals(BODY)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('stops with SourceChanged when the file changed between attempts (another ETag): the caller starts again', async () => {
    const half = (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { 'content-length': BODY.length, etag: '"v1"' });
      res.write(BODY.subarray(0, 5), () => res.socket?.destroy());
    };
    const changed = (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(200, { 'content-length': BODY.length, etag: '"v2"' }).end(BODY);
    const server = await scripted([half, changed]);
    try {
      await expect(fetchAll(server.url)).rejects.toThrow(/the file changed on the server during the download \("v1" became "v2"\)/);
    } finally {
      await server.close();
    }
  });
});
