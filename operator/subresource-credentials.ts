/**
 * What the leader keeps for the subresource server (ADR 0011), in the operator's namespace:
 * its launcher client certificate (a Secret it mounts), its serving certificate and CA (a
 * Secret it mounts), and the APIService's caBundle equal to that CA. The same code as the
 * webhook's self-managed certificates, with other names. Only the leader writes: a replica
 * that is not leading runs none of this.
 */
import { SUBRESOURCE_CLIENT_NAME } from '../api/contract/subresource.js';
import { syncApiServiceCaBundle } from './kube/ca-bundle.js';
import type { ApiServiceApi, SecretStore } from './kube/certificate-api.js';
import { ensureClientSecret } from './kube/client-secret.js';
import { ensureServingCertificates } from './kube/serving-secret.js';
import type { LauncherAuthority } from './pki/launcher.js';
import { serviceSans } from './pki/serving-policy.js';
import type { SubresourceSettings } from './subresource-options.js';

/** pino's shape, as far as this logs. */
export interface CredentialsLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

/** What one check needs. */
export interface SubresourceCredentialsOptions {
  settings: SubresourceSettings;
  api: SecretStore & ApiServiceApi;
  /** The operator's namespace: the Secrets and the Service live there. */
  namespace: string;
  authority: LauncherAuthority;
  log: CredentialsLogger;
  now?: () => Date;
}

/** What a check found or did, for the log and the tests. */
export interface CredentialsCheck {
  /** The serving CA bundle the APIService must carry. */
  caBundle: string;
  /** The APIService: patched, current, or absent. */
  apiService: 'patched' | 'current' | 'missing';
}

/** The CA common name of the subresource server's serving certificates. */
export const SUBRESOURCE_SERVING_CA = 'kubevmm-subresources-ca';

/** Copies the bundle into the APIService; logs a patch and, once, a missing APIService. */
export async function syncSubresourceCaBundle(opts: SubresourceCredentialsOptions, caBundle: string): Promise<CredentialsCheck['apiService']> {
  const { settings, namespace } = opts;
  const patched = await syncApiServiceCaBundle(opts.api, settings.apiService, caBundle, { namespace, name: settings.service });
  if (patched) opts.log.info({ apiService: settings.apiService }, 'APIService caBundle updated');
  return patched === undefined ? 'missing' : patched ? 'patched' : 'current';
}

/** One pass: the client Secret, the serving Secret, then the APIService's caBundle. */
export async function checkSubresourceCredentials(opts: SubresourceCredentialsOptions): Promise<CredentialsCheck> {
  const { settings, namespace, log } = opts;
  const client = await ensureClientSecret({ api: opts.api, namespace, secretName: settings.clientSecret, authority: opts.authority, commonName: SUBRESOURCE_CLIENT_NAME, now: opts.now });
  if (client.renewed) log.info({ secret: `${namespace}/${settings.clientSecret}`, reason: client.renewed, notAfter: client.notAfter.toISOString() }, 'subresource server client certificate written');
  const serving = await ensureServingCertificates({ api: opts.api, namespace, secretName: settings.servingSecret, sans: serviceSans(settings.service, namespace), caName: SUBRESOURCE_SERVING_CA, now: opts.now });
  if (serving.renewed) log.info({ secret: `${namespace}/${settings.servingSecret}`, reason: serving.renewed }, 'subresource server serving certificate written');
  return { caBundle: serving.caBundle, apiService: await syncSubresourceCaBundle(opts, serving.caBundle) };
}

/** How often the leader looks. */
export interface CredentialsSchedule {
  /** Both Secrets (default 1 h: the client certificate is renewed 10 days before it ends). */
  certCheckMs?: number;
  /** The APIService's caBundle (default 60 s, so one a `helm upgrade --force` reset is repaired soon). */
  caBundleSyncMs?: number;
}

/**
 * Runs the checks in the background until stopped: all of them at once and every
 * `certCheckMs`; the caBundle alone every `caBundleSyncMs` (everything again while no check
 * has succeeded yet). Failures are logged and retried on the next tick.
 */
export function runSubresourceCredentials(opts: SubresourceCredentialsOptions & CredentialsSchedule): () => void {
  let bundle: string | undefined;
  let missingLogged = false;
  let running: Promise<void> = Promise.resolve();
  const settle = (apiService: CredentialsCheck['apiService']) => {
    if (apiService === 'missing' && !missingLogged) opts.log.warn({ apiService: opts.settings.apiService }, 'APIService not found: kubectl cannot reach the subresource server until it exists');
    missingLogged = apiService === 'missing';
  };
  const full = async () => {
    const check = await checkSubresourceCredentials(opts);
    bundle = check.caBundle;
    settle(check.apiService);
  };
  const quick = async () => (bundle === undefined ? full() : settle(await syncSubresourceCaBundle(opts, bundle)));
  // One check at a time: a slow API server must not pile them up.
  const serially = (what: string, fn: () => Promise<void>) => () => {
    running = running.then(fn).catch((err: unknown) => opts.log.warn({ err: String(err), what }, 'subresource server credentials not checked; will retry'));
  };
  serially('all', full)();
  const certTimer = setInterval(serially('all', full), opts.certCheckMs ?? 3600_000);
  const bundleTimer = setInterval(serially('caBundle', quick), opts.caBundleSyncMs ?? 60_000);
  certTimer.unref();
  bundleTimer.unref();
  return () => {
    clearInterval(certTimer);
    clearInterval(bundleTimer);
  };
}
