// A source pod's HTTPS server (api/contract/claim-source.ts, ADR 0019): it serves one file or
// device, the claim's disk, read-only, at `/disk`, to one client: the importer of the image it
// was started for (a verified clientAuth certificate from the launcher CA whose common name
// names that image's UID). `HEAD` gives the size; `GET` the bytes, or one range of them, so the
// importer resumes a cut transfer where it stopped. No path reaches the file system: `/disk`
// is the only name, and the file is the one the pod was told at start.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type http from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import { sourceClientMay } from '../../api/contract/claim-source.js';
import type { ListeningFront } from '../control/plain-http.js';
import { clientName, refuseClient, type ControlTlsFiles } from '../control/tls.js';
import { parseRange } from './byte-range.js';
import { blockDeviceBytes } from './run.js';
import { listenMutualTls, sendJson } from './server.js';

/** Options of {@link startClaimServer}. */
export interface ClaimServerOptions {
  port: number;
  host?: string;
  tls: ControlTlsFiles;
  /** The image whose importer alone may read. */
  imageUid: string;
  /** The claim's disk.img, or its device. */
  path: string;
  log?: (line: string) => void;
}

/** A listening source server. */
export type ClaimServer = ListeningFront;

/** What is served now: its size and a validator that changes when the file does. */
interface Served {
  size: number;
  etag?: string;
}

async function served(path: string): Promise<Served | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return undefined;
  if (info.isBlockDevice()) return { size: (await blockDeviceBytes(path)) ?? 0 };
  if (!info.isFile()) return undefined;
  return { size: info.size, etag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}-${info.ino.toString(16)}"` };
}

/** A Range is honoured only when If-Range (if sent) names what is served now; otherwise the whole file goes. */
function rangeHeader(req: http.IncomingMessage, now: Served): string | undefined {
  const ifRange = req.headers['if-range'];
  if (ifRange !== undefined && ifRange !== now.etag) return undefined;
  return req.headers.range;
}

/** Why this caller may not have this call (401/403), or undefined. */
function refusal(options: ClaimServerOptions, req: http.IncomingMessage): { status: number; reason: string; message: string } | undefined {
  const path = new URL(req.url ?? '/', 'https://source').pathname;
  const method = req.method ?? 'GET';
  const socket = req.socket as TLSSocket;
  const refused = refuseClient(socket);
  if (refused) return refused;
  const client = clientName(socket);
  if (sourceClientMay(options.imageUid, client, method, path)) return undefined;
  options.log?.(`refused ${method} ${path} by ${client}`);
  return { status: 403, reason: 'ClientNotAllowed', message: `client ${client} may not call ${method} ${path} on this source: only the importer of image ${options.imageUid} may read it (GET or HEAD /disk)` };
}

async function serve(options: ClaimServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const refused = refusal(options, req);
  if (refused) return sendJson(res, refused.status, { reason: refused.reason, message: refused.message });
  const method = req.method ?? 'GET';
  const client = clientName(req.socket as TLSSocket);
  const now = await served(options.path);
  if (!now) return sendJson(res, 404, { reason: 'NotFound', message: `the claim holds no disk to serve (${options.path} is missing or neither a file nor a block device)` });
  const common = { 'accept-ranges': 'bytes', 'cache-control': 'no-store', ...(now.etag ? { etag: now.etag } : {}) };
  const range = parseRange(rangeHeader(req, now), now.size);
  if (range.kind === 'invalid') return sendJson(res, 400, { reason: 'InvalidRange', message: range.message });
  if (range.kind === 'unsatisfiable') return sendJson(res, 416, { reason: 'RangeNotSatisfiable', message: range.message }, { 'content-range': `bytes */${now.size}` });
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, now.size - 1];
  const length = end - start + 1;
  const headers = { ...common, 'content-type': 'application/octet-stream', 'content-length': String(length), ...(range.kind === 'partial' ? { 'content-range': `bytes ${start}-${end}/${now.size}` } : {}) };
  res.writeHead(range.kind === 'partial' ? 206 : 200, headers);
  if (method === 'HEAD' || length === 0) return void res.end();
  options.log?.(`${client}: bytes ${start}-${end} of ${now.size}`);
  await pipeline(createReadStream(options.path, { start, end, highWaterMark: 1024 * 1024 }), res);
}

/** Start serving; resolves once listening. */
export function startClaimServer(options: ClaimServerOptions): Promise<ClaimServer> {
  return listenMutualTls(options, (req, res) => serve(options, req, res));
}
