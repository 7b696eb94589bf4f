/**
 * Relays `HEAD/PUT .../virtualmachineimages/NAME/upload` to the image's importer pod (its HTTPS
 * API on IMPORTER_PORT, api/contract/importer.ts), with the subresource server's client
 * certificate from the launcher CA, and taking only an importer whose certificate that CA issued
 * for the image's UID. The body streams through: `pipe` stops reading the user's request while
 * the importer is slower, so no more than a socket buffer or two of the file is ever held here,
 * whatever its size. The importer's answer comes back with its offset headers; a refusal
 * becomes a Kubernetes Status carrying the importer's reason and message.
 */
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { controlError } from '../api/contract/control.js';
import { IMPORTER_PORT, UPLOAD_LENGTH_HEADER, UPLOAD_OFFSET_HEADER, UPLOAD_PATH } from '../api/contract/importer.js';
import type { ImageUploadRequest, KubeStatus, StatusReason } from '../api/contract/subresource.js';
import { launcherServerName } from '../api/layout.js';
import type { LauncherTls } from './launcher-dial.js';
import type { ImporterTarget } from './upload-admit.js';
import { imageStatus } from './upload-admit.js';

/** Options of {@link ImporterRelay}. */
export interface ImporterRelayOptions {
  /** The client certificate in force (the launcher client's); undefined: none loaded yet. */
  tls: () => LauncherTls | undefined;
  /** Default IMPORTER_PORT. */
  port?: number;
  /** No byte either way for this long ends the relay. Default 60 s. */
  idleTimeoutMs?: number;
}

/** How one relay ended: the code answered and the body bytes that went to the importer. */
export interface RelayOutcome {
  code: number;
  bytes: number;
  /** Set when the relay failed (the user read `code`'s Status). */
  error?: string;
}

/** Request headers the importer reads; nothing else of the user's request goes through (no identity headers). */
const FORWARDED = ['content-length', 'content-type', UPLOAD_OFFSET_HEADER, UPLOAD_LENGTH_HEADER] as const;
/** Answer headers the client reads. */
const RETURNED = [UPLOAD_OFFSET_HEADER, UPLOAD_LENGTH_HEADER] as const;

/** Largest importer refusal read. */
const MAX_REFUSAL_BYTES = 64 * 1024;

/** The headers sent to the importer. */
export function forwardedHeaders(req: Pick<IncomingMessage, 'headers'>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name of FORWARDED) {
    const value = req.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

const REASON_OF_CODE: Readonly<Record<number, StatusReason>> = { 400: 'BadRequest', 404: 'NotFound', 409: 'Conflict', 413: 'BadRequest', 503: 'ServiceUnavailable' };

/** The Status for an importer's refusal (`{reason, message}` JSON, or whatever it sent). */
export function importerRefusalStatus(request: ImageUploadRequest, code: number, body: string): KubeStatus {
  const label = `image ${request.namespace}/${request.name}`;
  let said: string;
  try {
    const parsed = controlError.safeParse(JSON.parse(body));
    said = parsed.success ? `${parsed.data.message} (${parsed.data.reason})` : `answered ${code} without {reason, message}`;
  } catch {
    said = `answered ${code} with a body that is not JSON`;
  }
  const reason = REASON_OF_CODE[code] ?? (code >= 500 ? 'ServiceUnavailable' : 'InternalError');
  return imageStatus(reason, `the importer of ${label}: ${said}`, request.name);
}

function pick(res: IncomingMessage, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = res.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

function sendStatus(res: ServerResponse, status: KubeStatus, extra: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  const text = `${JSON.stringify(status)}\n`;
  res.writeHead(status.code, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...extra }).end(text);
}

/** Node's codes for a peer certificate that failed verification. */
const IDENTITY_CODES = /^(ERR_TLS_CERT_ALTNAME_INVALID|CERT_|UNABLE_TO_(VERIFY|GET_ISSUER)|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/;

function failureStatus(err: unknown, request: ImageUploadRequest, timedOut: boolean): KubeStatus {
  const label = `image ${request.namespace}/${request.name}`;
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (IDENTITY_CODES.test(code)) return imageStatus('InternalError', `refused to send: the server at the importer pod's address of ${label} did not present that image's importer certificate; the subresource server's log has the detail`, request.name);
  const what = timedOut ? 'stopped answering' : 'cannot be reached';
  return imageStatus('ServiceUnavailable', `the importer of ${label} ${what}; HEAD the upload for the offset it has, and resume from there`, request.name);
}

/** Sends uploads on to importers. */
export class ImporterRelay {
  constructor(private readonly opts: ImporterRelayOptions) {}

  /** Relays `req` to the importer at `target` and its answer to `res`; resolves when both ended. */
  relay(request: ImageUploadRequest, target: ImporterTarget, req: IncomingMessage, res: ServerResponse): Promise<RelayOutcome> {
    const tls = this.opts.tls();
    if (!tls) {
      sendStatus(res, imageStatus('ServiceUnavailable', 'the subresource server has no launcher client certificate loaded yet (--launcher-client-dir); try again shortly', request.name));
      return Promise.resolve({ code: 503, bytes: 0, error: 'no client certificate' });
    }
    return new Promise<RelayOutcome>((resolve) => {
      let bytes = 0;
      let timedOut = false;
      let settled = false;
      const done = (outcome: Omit<RelayOutcome, 'bytes'>) => {
        if (settled) return;
        settled = true;
        resolve({ ...outcome, bytes });
      };
      const upstream = https.request({
        host: target.ip,
        port: this.opts.port ?? IMPORTER_PORT,
        method: req.method,
        path: UPLOAD_PATH,
        // The identity checked against the importer's certificate; the pod IP is only where to dial.
        servername: launcherServerName(target.imageUid),
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        minVersion: 'TLSv1.2',
        agent: false,
        headers: forwardedHeaders(req),
      });
      upstream.setTimeout(this.opts.idleTimeoutMs ?? 60_000, () => {
        timedOut = true;
        upstream.destroy(new Error('idle timeout'));
      });
      upstream.on('response', (answer: IncomingMessage) => {
        const code = answer.statusCode ?? 502;
        if (code >= 200 && code < 300) {
          res.writeHead(code, { 'cache-control': 'no-store', ...pick(answer, RETURNED) });
          answer.pipe(res);
          answer.on('end', () => done({ code }));
          answer.on('error', (err) => done({ code, error: err.message }));
          return;
        }
        let body = '';
        answer.setEncoding('utf8');
        answer.on('data', (chunk: string) => {
          if (body.length < MAX_REFUSAL_BYTES) body += chunk;
        });
        answer.on('end', () => {
          const status = importerRefusalStatus(request, code, body);
          sendStatus(res, status, pick(answer, RETURNED));
          done({ code: status.code, error: status.message });
        });
        answer.on('error', (err) => done({ code, error: err.message }));
      });
      upstream.on('error', (err) => {
        const status = failureStatus(err, request, timedOut);
        sendStatus(res, status);
        done({ code: status.code, error: err.message });
      });
      // The user gave up (or the API server's timeout cut the request): the importer keeps what
      // arrived, and the client resumes from HEAD's offset.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy(new Error('the client went away'));
      });
      if (req.method === 'PUT') {
        req.on('data', (chunk: Buffer) => (bytes += chunk.length));
        req.pipe(upstream);
      } else {
        upstream.end();
      }
    });
  }
}
