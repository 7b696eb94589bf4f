/**
 * An importer's upload endpoint as api/contract/importer.ts describes it, for the subresource
 * server's and the CLI's tests: mutual TLS with one image's credentials, `HEAD /upload`
 * (the offset, and the length once known) and `PUT /upload` (appends at the offset; a wrong
 * offset is 409 with the right one), refusals as `{reason, message}`, and only the subresource
 * server's client certificate. It keeps a SHA-256 of the bytes in order instead of the bytes,
 * so a test can upload a large file and compare. `cutAfter` drops the connection once that many
 * bytes of the file have arrived, as a network failure would (the bytes before it are kept);
 * `holdAfter` stops reading there, as a stalled network would.
 */
import { createHash, type Hash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { CONTROL_CLIENTS } from '../api/contract/control.js';
import { UPLOAD_LENGTH_HEADER, UPLOAD_OFFSET_HEADER, UPLOAD_PATH } from '../api/contract/importer.js';

/** Options of {@link startImporterUpload}. */
export interface ImporterUploadOptions {
  /** The image's importer certificate, its key, and the CA whose client certificates are taken (PEM). */
  tls: { cert: string; key: string; clientCa: string };
  host: string;
  port: number;
}

/** The running stand-in; its fields may be changed between requests. */
export interface ImporterUpload {
  port: number;
  /** `METHOD client-CN` of each request, in order. */
  calls: string[];
  /** Bytes stored so far. */
  offset: number;
  /** The file's size, once a PUT gave it. */
  length?: number;
  /** Drop the connection when the stored bytes reach this (once; then cleared). */
  cutAfter?: number;
  /** Stop reading (a stalled network) when the stored bytes reach this; nothing is answered. */
  holdAfter?: number;
  /** The largest number of bytes one PUT carried. */
  largestPut: number;
  /** SHA-256 hex of the bytes stored, once all `length` arrived. */
  digest(): string | undefined;
  /** Forgets the upload: a new one starts at 0. */
  reset(): void;
  close(): Promise<void>;
}

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

function clientOf(req: IncomingMessage): string | undefined {
  const socket = req.socket as TLSSocket;
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!(cert.ext_key_usage ?? []).includes(CLIENT_AUTH_OID)) return undefined;
  return typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined;
}

function refuse(res: ServerResponse, status: number, error: { reason: string; message: string }, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(error));
}

/** Starts the stand-in; resolves once it listens. */
export async function startImporterUpload(opts: ImporterUploadOptions): Promise<ImporterUpload> {
  let hash: Hash = createHash('sha256');
  let final: string | undefined;
  const state: ImporterUpload = {
    port: 0,
    calls: [],
    offset: 0,
    largestPut: 0,
    digest: () => final,
    reset: () => {
      hash = createHash('sha256');
      final = undefined;
      Object.assign(state, { offset: 0, length: undefined, largestPut: 0 });
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const offsetHeaders = () => ({ [UPLOAD_OFFSET_HEADER]: String(state.offset), ...(state.length === undefined ? {} : { [UPLOAD_LENGTH_HEADER]: String(state.length) }) });

  function put(req: IncomingMessage, res: ServerResponse): void {
    const from = Number(req.headers[UPLOAD_OFFSET_HEADER]);
    if (!Number.isInteger(from) || from !== state.offset) return refuse(res, 409, { reason: 'OffsetMismatch', message: `the upload is at byte ${state.offset}, not ${String(req.headers[UPLOAD_OFFSET_HEADER])}` }, offsetHeaders());
    const length = req.headers[UPLOAD_LENGTH_HEADER];
    if (length !== undefined) {
      if (state.length !== undefined && Number(length) !== state.length) return refuse(res, 409, { reason: 'LengthMismatch', message: `the upload is ${state.length} bytes long, not ${length}` }, offsetHeaders());
      state.length = Number(length);
    }
    if (state.length === undefined) return refuse(res, 400, { reason: 'LengthRequired', message: `the first PUT gives ${UPLOAD_LENGTH_HEADER}` });
    let carried = 0;
    req.on('data', (chunk: Buffer) => {
      let piece = chunk;
      if (state.cutAfter !== undefined && state.offset + piece.length >= state.cutAfter) piece = piece.subarray(0, state.cutAfter - state.offset);
      if (state.offset + piece.length > (state.length ?? 0)) return void req.socket.destroy();
      hash.update(piece);
      state.offset += piece.length;
      carried += piece.length;
      if (state.cutAfter !== undefined && state.offset >= state.cutAfter) {
        state.cutAfter = undefined;
        req.socket.destroy();
      }
      if (state.holdAfter !== undefined && state.offset >= state.holdAfter) req.pause();
    });
    req.on('end', () => {
      state.largestPut = Math.max(state.largestPut, carried);
      if (state.offset === state.length && final === undefined) final = hash.digest('hex');
      res.writeHead(204, offsetHeaders()).end();
    });
  }

  const server: Server = createServer({ cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (req, res) => {
    const client = clientOf(req);
    state.calls.push(`${req.method} ${client ?? '-'}`);
    if (req.url !== UPLOAD_PATH) return refuse(res, 404, { reason: 'NotFound', message: `${req.url} is not served` });
    if (client !== CONTROL_CLIENTS.subresources) return refuse(res, 403, { reason: 'ClientNotAllowed', message: `client ${client ?? '(none)'} may not upload` });
    if (req.method === 'HEAD') return void res.writeHead(200, offsetHeaders()).end();
    if (req.method === 'PUT') return put(req, res);
    refuse(res, 405, { reason: 'MethodNotAllowed', message: 'HEAD or PUT' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  state.port = (server.address() as AddressInfo).port;
  return state;
}
