/**
 * The webhook as the operator runs it, on every replica (not only the leader): the HTTPS
 * server plus whichever certificate mode the flags choose. With --webhook-cert-dir it serves
 * and reloads the mounted pair; otherwise it keeps the self-managed certificates in the
 * shared Secret (checked at start and hourly) and the configuration's caBundle current
 * (checked every minute, so a `helm upgrade` that resets it is repaired quickly).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { RequestObserver } from '../kube/client.js';
import { wakeableSleep } from '../kube/sleep.js';
import type { AdmissionCaches } from './admit.js';
import { accessReviewer } from '../kube/access-review.js';
import { syncWebhookCaBundle } from '../kube/ca-bundle.js';
import { CertificateKube } from '../kube/certificate-api.js';
import { ensureServingCertificates, type ServingCertificates } from '../kube/serving-secret.js';
import { serviceSans } from '../pki/serving-policy.js';
import { readCertDir, watchCertDir } from './cert-dir.js';
import type { WebhookSettings } from './options.js';
import { startWebhookServer, type WebhookServer } from './server.js';

/** pino's shape, as far as the webhook logs. */
export interface WebhookLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

export interface StartWebhookOptions {
  settings: WebhookSettings;
  kc: KubeConfig;
  /** The operator's namespace: where the certificate Secret lives. */
  namespace: string;
  caches: AdmissionCaches;
  log: WebhookLogger;
  /** Counts the certificate manager's API calls (the operator's request metric). */
  observe?: RequestObserver;
  /** Listen address (default: all interfaces). */
  host?: string;
  /** How often the self-managed certificates are checked (default 1 h). */
  certCheckMs?: number;
  /** How often the caBundle is checked (default 60 s). */
  caBundleSyncMs?: number;
  /** Called for each review answered: the resource, how it ended, and how long it took (metrics). */
  onReview?: (resource: string, result: ReviewOutcome, seconds: number) => void;
}

/** How a review ended: decided, or not decidable (a malformed review, a failure in the webhook). */
export type ReviewOutcome = 'allowed' | 'denied' | 'error';

/** allowed, denied by a rule, or error: a 400 (malformed review) or 500 answer decides nothing. */
export function reviewOutcome(review: { response: { allowed: boolean; status?: { code?: number } } }): ReviewOutcome {
  if (review.response.allowed) return 'allowed';
  const code = review.response.status?.code ?? 0;
  return code === 400 || code >= 500 ? 'error' : 'denied';
}

/** A running webhook. */
export interface WebhookHandle {
  /** Resolves with the URL once serving; rejects on a fatal setup error (port in use, bad cert dir). */
  ready: Promise<string>;
  close(): Promise<void>;
}

/** Starts the webhook in the background; undefined when --webhook-port is 0. */
export function startWebhook(opts: StartWebhookOptions): WebhookHandle | undefined {
  if (opts.settings.port === 0) return undefined;
  const stops: (() => void)[] = [];
  let server: WebhookServer | undefined;
  let closed = false;
  const ready = (async () => {
    const run = opts.settings.certDir ? serveFromDir : serveSelfManaged;
    server = await run(opts, stops, () => closed);
    return server.url;
  })();
  return {
    ready,
    close: async () => {
      closed = true;
      stops.forEach((stop) => stop());
      await ready.catch(() => undefined);
      await server?.close();
    },
  };
}

function serverOptions(opts: StartWebhookOptions, certificate: { certPem: string; keyPem: string }) {
  const { caches, log } = opts;
  return {
    port: opts.settings.port,
    host: opts.host,
    certificate,
    caches,
    review: accessReviewer(opts.kc, opts.observe),
    onReview: (review: { response: { allowed: boolean; uid: string; status?: { code?: number; message: string } } }, path: string, seconds: number) => {
      opts.onReview?.(path.split('/').pop() ?? path, reviewOutcome(review), seconds);
      if (!review.response.allowed) log.info({ path, uid: review.response.uid, ms: Math.round(seconds * 1e4) / 10, message: review.response.status?.message }, 'admission denied');
    },
  };
}

async function serveFromDir(opts: StartWebhookOptions, stops: (() => void)[]): Promise<WebhookServer> {
  const dir = opts.settings.certDir ?? '';
  const current = await readCertDir(dir);
  const server = await startWebhookServer(serverOptions(opts, current));
  stops.push(
    watchCertDir({
      dir,
      current,
      onChange: (pair) => {
        server.setCertificate(pair);
        opts.log.info({ dir }, 'webhook certificate reloaded');
      },
      onError: (err) => opts.log.warn({ dir, err: String(err) }, 'webhook certificate not reloaded; serving the previous one'),
    }),
  );
  return server;
}

async function serveSelfManaged(opts: StartWebhookOptions, stops: (() => void)[], closed: () => boolean): Promise<WebhookServer> {
  const { settings, log } = opts;
  const api = new CertificateKube(opts.kc, opts.observe);
  const certOptions = { api, namespace: opts.namespace, secretName: settings.secret, sans: serviceSans(settings.service, opts.namespace, settings.extraSans), caName: 'kubevmm-webhook-ca' };
  const ensure = async () => {
    const next = await ensureServingCertificates(certOptions);
    if (next.renewed) log.info({ secret: `${opts.namespace}/${settings.secret}`, reason: next.renewed }, 'webhook certificates written');
    return next;
  };
  let wake: (() => void) | undefined;
  stops.push(() => wake?.());
  let certs: ServingCertificates | undefined;
  // Until the Secret can be read or written (RBAC, API server down) there is nothing to serve.
  for (let delay = 1000; !certs; delay = Math.min(delay * 2, 30_000)) {
    if (closed()) throw new Error('webhook closed before its certificate was ready');
    try {
      certs = await ensure();
    } catch (err) {
      log.warn({ err: String(err), retryInMs: delay }, 'webhook certificate not ready');
      await wakeableSleep(delay, (w) => (wake = w));
    }
  }
  const server = await startWebhookServer(serverOptions(opts, certs.serving));
  let bundle = certs.caBundle;
  let missingLogged = false;
  const syncBundle = async () => {
    try {
      const patched = await syncWebhookCaBundle(api, settings.configuration, bundle);
      if (patched === undefined && !missingLogged) {
        log.warn({ configuration: settings.configuration }, 'ValidatingWebhookConfiguration not found: the API server does not call this webhook until it exists');
      }
      missingLogged = patched === undefined;
      if (patched) log.info({ configuration: settings.configuration, webhooks: patched }, 'caBundle updated');
    } catch (err) {
      log.warn({ configuration: settings.configuration, err: String(err) }, 'caBundle not updated');
    }
  };
  const checkCerts = async () => {
    try {
      const next = await ensure();
      if (next.serving.certPem !== certs?.serving.certPem) server.setCertificate(next.serving);
      certs = next;
      bundle = next.caBundle;
      await syncBundle();
    } catch (err) {
      log.warn({ err: String(err) }, 'webhook certificate check failed; serving the current one');
    }
  };
  await syncBundle();
  const certTimer = setInterval(() => void checkCerts(), opts.certCheckMs ?? 3600_000);
  const bundleTimer = setInterval(() => void syncBundle(), opts.caBundleSyncMs ?? 60_000);
  certTimer.unref();
  bundleTimer.unref();
  stops.push(() => clearInterval(certTimer), () => clearInterval(bundleTimer));
  return server;
}

/** The webhook as main.ts runs it: started in the background, its state logged. */
export interface OperatorWebhook {
  /** True when serving, or when there is no webhook: part of /readyz, so a Service skips a replica that cannot answer. */
  serving(): boolean;
  close(): Promise<void>;
}

/**
 * Starts the webhook and logs when it serves. A setup failure (port in use, unreadable
 * certificate directory) is logged and keeps the replica unready; it does not stop
 * reconciling.
 */
export function runWebhook(opts: StartWebhookOptions & { log: WebhookLogger & { error(fields: object, msg: string): void } }): OperatorWebhook {
  const handle = startWebhook(opts);
  if (!handle) {
    opts.log.info({}, 'admission webhook disabled (--webhook-port 0)');
    return { serving: () => true, close: async () => undefined };
  }
  let serving = false;
  handle.ready.then(
    (url) => {
      serving = true;
      const mode = opts.settings.certDir ? `certificate from ${opts.settings.certDir}` : `self-managed certificate in Secret ${opts.namespace}/${opts.settings.secret}`;
      opts.log.info({ url, mode }, 'serving the admission webhook');
    },
    (err: unknown) => opts.log.error({ err: String(err) }, 'the admission webhook is not serving'),
  );
  return { serving: () => serving, close: () => handle.close() };
}
