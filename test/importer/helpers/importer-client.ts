// Calls to an importer's API over mutual TLS, as the operator (GET /status) and the subresource
// server (HEAD/PUT /upload) make them, including a PUT whose connection is cut part-way.

import https from 'node:https';
import { callerTls, type Caller } from '../../launcher/helpers/control.js';

/** One answer (status 0: the connection was cut by the caller). */
export interface ImporterReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** Options of {@link importerCall}. */
export interface CallOptions {
  headers?: Record<string, string>;
  body?: Buffer;
  /** Send only this many bytes of the body, then cut the connection. */
  cutAfter?: number;
}

/** `method path` on the importer at `baseUrl` as `caller`. */
export function importerCall(baseUrl: string, method: string, path: string, caller: Caller, options: CallOptions = {}): Promise<ImporterReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${baseUrl}${path}`,
      { method, ...callerTls(caller), headers: { ...(options.body ? { 'content-length': String(options.body.length) } : {}), ...options.headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      },
    );
    if (options.cutAfter !== undefined && options.body) {
      // Whatever happens next (an answer, an error), the caller only learns that it was cut.
      const cut = () => resolve({ status: 0, headers: {}, body: {} });
      req.on('error', cut);
      req.on('close', cut);
      req.write(options.body.subarray(0, options.cutAfter), () => setTimeout(() => req.destroy(), 200));
      return;
    }
    req.on('error', reject);
    req.end(options.body);
  });
}
