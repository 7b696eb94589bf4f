/**
 * The webhook's HTTPS server: POST of a JSON AdmissionReview to /validate/virtualmachines,
 * /validate/virtualmachineclasses or /validate/virtualmachineimages, answered from memory (see
 * admit.ts), except an image copying a claim of another namespace, which asks the API server
 * about its user (image.ts). The certificate can be
 * swapped while serving (setCertificate): new connections get the new one.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen } from '../listen.js';
import { admitAny, type AdmissionCaches } from './admit.js';
import type { AccessReviewer } from './image.js';
import type { PemPair } from '../pki/certs.js';
import { denyBadRequest, type AdmissionReviewResponse } from './review.js';

/** The paths the webhook configuration points at. */
export const WEBHOOK_PATHS = ['/validate/virtualmachines', '/validate/virtualmachineclasses', '/validate/virtualmachineimages'] as const;

/**
 * An UPDATE review carries the object twice; Kubernetes objects are at most ~1.5 MiB, so
 * anything bigger is not a review from the API server.
 */
export const BODY_LIMIT_BYTES = 4 * 1024 * 1024;

export interface WebhookServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Listen address; all interfaces when unset (the API server reaches the pod IP). */
  host?: string;
  certificate: PemPair;
  caches: AdmissionCaches;
  /** Creates a SubjectAccessReview (an image copying a claim of another namespace). */
  review: AccessReviewer;
  /** Called after each review is answered, with its handling time. */
  onReview?: (review: AdmissionReviewResponse, path: string, seconds: number) => void;
}

export interface WebhookServer {
  /** https://127.0.0.1:<port> when listening on all interfaces. */
  url: string;
  port: number;
  /** Serves `pair` to new connections from now on. */
  setCertificate(pair: PemPair): void;
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens. */
export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const server: Server = createServer({ cert: opts.certificate.certPem, key: opts.certificate.keyPem, minVersion: 'TLSv1.2' }, (req, res) => handle(opts, req, res));
  // The API server's own timeout is at most 30 s (10 s by default); a client slower than that is not it.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  const { port, urlHost } = await listen(server, opts.port, opts.host);
  return {
    url: `https://${urlHost}:${port}`,
    port,
    setCertificate: (pair) => server.setSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: 'TLSv1.2' }),
    close: async () => {
      // The API server keeps connections alive; without this close() would wait for them.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

function handle(opts: WebhookServerOptions, req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  const path = new URL(req.url ?? '/', 'https://localhost').pathname;
  if (!(WEBHOOK_PATHS as readonly string[]).includes(path)) return sendText(res, 404, `not found; the webhook serves ${WEBHOOK_PATHS.join(', ')}\n`);
  if (req.method !== 'POST') return sendText(res, 405, 'only POST of an AdmissionReview is served here\n');
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return sendText(res, 415, 'the body must be application/json (an AdmissionReview)\n');
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > BODY_LIMIT_BYTES) return sendText(res, 413, `the body is larger than ${BODY_LIMIT_BYTES} bytes\n`, true);
  readBody(req, (err, body) => {
    if (err) return sendText(res, 413, `${err.message}\n`, true);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (parseError) {
      // Not JSON: there is no uid to echo; the API server applies the failure policy.
      const refused = denyBadRequest('', `the body is not JSON: ${parseError instanceof Error ? parseError.message : String(parseError)}`);
      sendJson(res, 400, refused);
      opts.onReview?.(refused, path, (performance.now() - started) / 1000);
      return;
    }
    void safeAdmit(parsed, opts).then((review) => {
      sendJson(res, 200, review);
      opts.onReview?.(review, path, (performance.now() - started) / 1000);
    });
  });
}

/** admitAny() does not reject; should a bug make it, the request is denied (fail closed), not dropped. */
async function safeAdmit(body: unknown, opts: WebhookServerOptions): Promise<AdmissionReviewResponse> {
  try {
    return await admitAny(body, opts.caches, opts.review);
  } catch (err) {
    const uid = (body as { request?: { uid?: unknown } } | null)?.request?.uid;
    return denyBadRequest(typeof uid === 'string' ? uid : '', `the kubevmm webhook failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Collects the body up to the limit; a longer body ends with an error (and the connection). */
function readBody(req: IncomingMessage, done: (err: Error | undefined, body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let failed = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > BODY_LIMIT_BYTES && !failed) {
      failed = true;
      done(new Error(`the body is larger than ${BODY_LIMIT_BYTES} bytes`), '');
    }
    if (!failed) chunks.push(chunk);
  });
  req.on('end', () => {
    if (!failed) done(undefined, Buffer.concat(chunks).toString('utf8'));
  });
  req.on('error', (err) => {
    if (!failed) {
      failed = true;
      done(err, '');
    }
  });
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendText(res: ServerResponse, code: number, text: string, close = false): void {
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...(close ? { connection: 'close' } : {}) });
  res.end(text);
}
