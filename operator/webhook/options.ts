/**
 * The webhook's flags, each also read from its KUBEVMM_WEBHOOK_* variable (the Helm chart
 * sets those). The operator's namespace (where the certificate Secret lives) is the
 * --lease-namespace the operator already has (POD_NAMESPACE in a pod).
 */
import { Option, type Command } from 'commander';

/** The webhook's settings. */
export interface WebhookSettings {
  /** 0: no webhook. */
  port: number;
  /** Serve tls.crt/tls.key from here; unset: the operator manages its own certificates. */
  certDir?: string;
  /** Secret holding the self-managed CA and serving certificate. */
  secret: string;
  /** Service in front of the webhook: its DNS names go into the serving certificate. */
  service: string;
  /** ValidatingWebhookConfiguration whose caBundle the operator keeps current. */
  configuration: string;
  /** More names (DNS names or IP addresses) for the serving certificate. */
  extraSans: string[];
}

const FLAGS: [flag: string, env: string, help: string, fallback?: string][] = [
  ['--webhook-port <n>', 'KUBEVMM_WEBHOOK_PORT', 'HTTPS port of the validating admission webhook (0: no webhook)', '9443'],
  ['--webhook-cert-dir <dir>', 'KUBEVMM_WEBHOOK_CERT_DIR', 'serve tls.crt and tls.key from this directory (e.g. cert-manager); unset: self-managed certificates'],
  ['--webhook-secret <name>', 'KUBEVMM_WEBHOOK_SECRET', 'Secret in the operator namespace for the self-managed certificates', 'kubevmm-webhook-tls'],
  ['--webhook-service <name>', 'KUBEVMM_WEBHOOK_SERVICE', 'Service of the webhook; its DNS names go into the certificate', 'kubevmm-webhook'],
  ['--webhook-configuration <name>', 'KUBEVMM_WEBHOOK_CONFIGURATION', 'ValidatingWebhookConfiguration whose caBundle the operator keeps current', 'kubevmm'],
  ['--webhook-extra-sans <names>', 'KUBEVMM_WEBHOOK_EXTRA_SANS', 'comma-separated extra DNS names or IPs for the certificate (e.g. 127.0.0.1)', ''],
];

/** Adds the webhook flags. */
export function withWebhookOptions(cmd: Command): Command {
  for (const [flag, env, help, fallback] of FLAGS) {
    const option = new Option(flag, help).env(env);
    cmd.addOption(fallback === undefined ? option : option.default(fallback));
  }
  return cmd;
}

/** Invalid webhook flags. */
export class WebhookSettingsError extends Error {
  override readonly name = 'WebhookSettingsError';
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function name(value: unknown, flag: string): string {
  const text = String(value ?? '').trim();
  if (!DNS_NAME.test(text) || text.length > 253) throw new WebhookSettingsError(`${flag}: "${text}" is not a Kubernetes object name (lower-case letters, digits, "-" and ".")`);
  return text;
}

/** Reads and checks the webhook flags from parsed options. */
export function webhookSettings(opts: Record<string, unknown>): WebhookSettings {
  const port = Number(opts.webhookPort ?? 9443);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new WebhookSettingsError(`--webhook-port: "${String(opts.webhookPort)}" must be a port number 1-65535, or 0 for no webhook`);
  }
  const certDir = typeof opts.webhookCertDir === 'string' && opts.webhookCertDir.trim() ? opts.webhookCertDir.trim() : undefined;
  return {
    port,
    certDir,
    secret: name(opts.webhookSecret ?? 'kubevmm-webhook-tls', '--webhook-secret'),
    service: name(opts.webhookService ?? 'kubevmm-webhook', '--webhook-service'),
    configuration: name(opts.webhookConfiguration ?? 'kubevmm', '--webhook-configuration'),
    extraSans: String(opts.webhookExtraSans ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
}
