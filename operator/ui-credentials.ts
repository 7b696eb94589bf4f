/**
 * The web console's serving certificate (docs/ui.md, ADR 0018): the leader keeps it in a
 * Secret of the operator's namespace, as it keeps the subresource server's (the same
 * ensureServingCertificates, another CA name). The console's pod mounts tls.crt and tls.key and
 * reloads them when they are renewed. Set by `--ui-service` and `--ui-serving-secret` (or their
 * KUBEVMM_UI_* variables; the chart sets them when `ui.enabled`); neither set: nothing is kept.
 */
import { Option, type Command } from 'commander';
import { DNS_SUBDOMAIN_PATTERN } from '../api/schema/kube.js';
import type { SecretStore } from './kube/certificate-api.js';
import { ensureServingCertificates } from './kube/serving-secret.js';
import { serviceSans } from './pki/serving-policy.js';
import type { CredentialsLogger } from './subresource-credentials.js';

/** What the operator keeps for the web console. */
export interface UiSettings {
  /** The console's Service: its DNS names go into the certificate. */
  service: string;
  /** Secret of the serving certificate and its CA. */
  servingSecret: string;
  /** More DNS names for the certificate (an Ingress host, `localhost` for port-forward). */
  dnsNames: string[];
}

/** The CA common name of the console's serving certificates. */
export const UI_SERVING_CA = 'kubevmm-ui-ca';

/** Adds the console's flags. */
export function withUiOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--ui-service <name>', "the web console's Service in the operator namespace; its DNS names go into the serving certificate").env('KUBEVMM_UI_SERVICE'))
    .addOption(new Option('--ui-serving-secret <name>', "Secret in the operator namespace for the web console's serving certificate and its CA").env('KUBEVMM_UI_SERVING_SECRET'))
    .addOption(new Option('--ui-dns-names <names>', 'more DNS names for that certificate, comma-separated').env('KUBEVMM_UI_DNS_NAMES'));
}

/** Invalid console flags. */
export class UiSettingsError extends Error {
  override readonly name = 'UiSettingsError';
}

const OBJECT_NAME = new RegExp(DNS_SUBDOMAIN_PATTERN);

function objectName(flag: string, raw: unknown): string | undefined {
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (!text) return undefined;
  if (!OBJECT_NAME.test(text) || text.length > 253) throw new UiSettingsError(`${flag}: "${text}" is not a Kubernetes object name (lower-case letters, digits, "-" and ".")`);
  return text;
}

/** Reads the console's flags from parsed options: undefined when neither name is set, an error when only one is. */
export function uiSettings(opts: Record<string, unknown>): UiSettings | undefined {
  const service = objectName('--ui-service', opts.uiService);
  const servingSecret = objectName('--ui-serving-secret', opts.uiServingSecret);
  if (!service && !servingSecret) return undefined;
  if (!service || !servingSecret) throw new UiSettingsError(`${service ? '--ui-serving-secret' : '--ui-service'} must be set too: the web console's certificate needs its Service and its Secret (or set neither)`);
  const dnsNames = String(opts.uiDnsNames ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const bad = dnsNames.find((n) => !OBJECT_NAME.test(n.replace(/^\*\./, '')));
  if (bad) throw new UiSettingsError(`--ui-dns-names: "${bad}" is not a DNS name`);
  return { service, servingSecret, dnsNames };
}

/** One check: the Secret written when absent, expiring, or naming other hosts. */
export async function checkUiCredentials(opts: { settings: UiSettings; api: SecretStore; namespace: string; log: CredentialsLogger; now?: () => Date }): Promise<void> {
  const { settings, namespace } = opts;
  const sans = serviceSans(settings.service, namespace, settings.dnsNames);
  const serving = await ensureServingCertificates({ api: opts.api, namespace, secretName: settings.servingSecret, sans, caName: UI_SERVING_CA, ...(opts.now ? { now: opts.now } : {}) });
  if (serving.renewed) opts.log.info({ secret: `${namespace}/${settings.servingSecret}`, reason: serving.renewed }, 'web console serving certificate written');
}

/** Runs the check now and every `checkMs` (default 1 h) until stopped; failures are logged and retried on the next tick. */
export function runUiCredentials(opts: Parameters<typeof checkUiCredentials>[0] & { checkMs?: number }): () => void {
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = running.then(() => checkUiCredentials(opts)).catch((err: unknown) => opts.log.warn({ err: String(err) }, 'web console certificate not checked; will retry'));
  };
  tick();
  const timer = setInterval(tick, opts.checkMs ?? 3600_000);
  timer.unref();
  return () => clearInterval(timer);
}
