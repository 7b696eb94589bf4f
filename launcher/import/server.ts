// The importer's HTTPS API on IMPORTER_PORT (api/contract/importer.ts), mutual TLS with the
// launcher's credentials scheme: the certificate for the image's UID, the launcher CA as the
// client CA. `GET /status` for the operator; `HEAD/PUT /upload` for the subresource server
// (importerClientMay). Every call needs a verified client certificate; plain HTTP is refused.

import https from 'node:https';
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { importerClientMay } from '../../api/contract/importer.js';
import { listenTlsOnly, type ListeningFront } from '../control/plain-http.js';
import { clientName, loadTls, refuseClient, type ControlTlsFiles } from '../control/tls.js';
import type { ImportProgress } from './progress.js';
import type { UploadAnswer, UploadReceiver } from './upload.js';

/** A connection with no traffic for this long is dropped. */
export const IDLE_TIMEOUT_MS = 120_000;

/** Options of {@link startImporterServer}. */
export interface ImporterServerOptions {
  port: number;
  host?: string;
  tls: ControlTlsFiles;
  progress: ImportProgress;
  /** Present when the source is an upload. */
  upload?: UploadReceiver;
  log?: (line: string) => void;
}

/** A listening importer API. */
export type ImporterServer = ListeningFront;

/** A JSON answer (a refusal, the status), never cached. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(`${JSON.stringify(body)}\n`);
}

function sendUpload(res: http.ServerResponse, answer: UploadAnswer, head: boolean): void {
  if (answer.body && !head) return sendJson(res, answer.status, answer.body, answer.headers);
  res.writeHead(answer.status, { 'cache-control': 'no-store', ...answer.headers }).end();
}

async function serve(options: ImporterServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://importer').pathname;
  const method = req.method ?? 'GET';
  const socket = req.socket as TLSSocket;
  const refused = refuseClient(socket);
  if (refused) return sendJson(res, refused.status, { reason: refused.reason, message: refused.message });
  const client = clientName(socket);
  if (!importerClientMay(client, method, path)) {
    return sendJson(res, 403, { reason: 'ClientNotAllowed', message: `client ${client} may not call ${method} ${path} on the importer` });
  }
  if (path === '/status') return sendJson(res, 200, options.progress.status());
  if (!options.upload) return sendJson(res, 409, { reason: 'NotAnUpload', message: 'this import reads its source itself; it takes no upload' });
  if (method === 'HEAD') return sendUpload(res, options.upload.head(), true);
  const answer = await options.upload.put(req, req.headers);
  options.log?.(`upload: PUT by ${client}: ${answer.status} at byte ${answer.headers['upload-offset']}`);
  // A refused or cut PUT may have a body still arriving: close the connection after the answer.
  if (answer.status >= 400) res.shouldKeepAlive = false;
  sendUpload(res, answer, false);
}

/**
 * An HTTPS server asking every client for a certificate (the handler judges it), TLS only on
 * its port, answering a handler's failure with 500; resolves once listening. The importer's
 * API and a source pod's server.
 */
export async function listenMutualTls(options: { port: number; host?: string; tls: ControlTlsFiles }, handle: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>): Promise<ListeningFront> {
  const { context } = await loadTls(options.tls);
  const tls = https.createServer({ ...context, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', requestTimeout: 0 });
  tls.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { reason: 'InternalError', message: String(err) });
      else res.destroy();
    });
  });
  // A client gone without a word (a cut network) must not hold a connection (or the one PUT slot) for ever.
  tls.setTimeout(IDLE_TIMEOUT_MS);
  return listenTlsOnly(tls, options.port, options.host);
}

/** Start serving; resolves once listening. */
export function startImporterServer(options: ImporterServerOptions): Promise<ImporterServer> {
  return listenMutualTls(options, (req, res) => serve(options, req, res));
}
