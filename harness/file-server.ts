// A local HTTP file server for the importer's tests and benchmark, with the failures real mirrors have:
// it can reset a download part-way (once per file), answer without Range support, trickle the
// bytes so progress can be watched, and it records every request with its Range header.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';

/** How one file misbehaves. */
export interface FileBehaviour {
  /** Cut the connection after this many body bytes, the first time the file is fetched. */
  resetAfter?: number;
  /** Ignore Range and send the whole file (200) every time. */
  noRange?: boolean;
  /** Send the body in 64 KiB pieces this many ms apart. */
  trickleMs?: number;
}

/** A running server. */
export interface FileServer {
  /** URL of a file in the served directory. */
  url(file: string): string;
  behave(file: string, behaviour: FileBehaviour): void;
  /** `GET /name range` per request, in order. */
  requests: { path: string; range?: string; status: number }[];
  close(): Promise<void>;
}

async function sendBody(res: http.ServerResponse, path: string, range: { start: number; end: number }, behaviour: FileBehaviour): Promise<void> {
  let sent = 0;
  for await (const chunk of createReadStream(path, { start: range.start, end: range.end, highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
    if (behaviour.resetAfter !== undefined && sent + chunk.length > behaviour.resetAfter) {
      res.write(chunk.subarray(0, behaviour.resetAfter - sent));
      delete behaviour.resetAfter;
      await new Promise((r) => setTimeout(r, 50));
      res.socket?.resetAndDestroy();
      return;
    }
    sent += chunk.length;
    if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    if (behaviour.trickleMs) await new Promise((r) => setTimeout(r, behaviour.trickleMs));
  }
  res.end();
}

/** Serve the files of `dir` on 127.0.0.1. */
export async function startFileServer(dir: string): Promise<FileServer> {
  const behaviours = new Map<string, FileBehaviour>();
  const requests: FileServer['requests'] = [];
  const server = http.createServer((req, res) => {
    void (async () => {
      const name = basename(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      const path = join(dir, name);
      const info = await stat(path).catch(() => undefined);
      const behaviour = behaviours.get(name) ?? {};
      const rangeHeader = req.headers.range;
      const record = { path: `/${name}`, ...(rangeHeader ? { range: rangeHeader } : {}), status: 200 };
      requests.push(record);
      if (!info?.isFile()) {
        record.status = 404;
        return res.writeHead(404, { 'content-type': 'text/html' }).end('<html>not found</html>');
      }
      const etag = `"${createHash('sha1').update(`${info.size}:${info.mtimeMs}`).digest('hex')}"`;
      const m = behaviour.noRange ? null : /^bytes=(\d+)-$/.exec(rangeHeader ?? '');
      const start = m && (!req.headers['if-range'] || req.headers['if-range'] === etag) ? Number(m[1]) : 0;
      const headers: http.OutgoingHttpHeaders = { etag, 'content-length': info.size - start, 'content-type': 'application/octet-stream', ...(behaviour.noRange ? {} : { 'accept-ranges': 'bytes' }) };
      if (start > 0) {
        record.status = 206;
        res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${info.size - 1}/${info.size}` });
      } else res.writeHead(200, headers);
      await sendBody(res, path, { start, end: info.size - 1 }, behaviour);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (file) => `http://127.0.0.1:${port}/${encodeURIComponent(basename(file))}`,
    behave: (file, b) => behaviours.set(basename(file), b),
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
