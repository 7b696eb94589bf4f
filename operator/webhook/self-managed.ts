/**
 * Self-managed webhook certificates: a CA and a serving certificate kept in one Secret in the
 * operator's namespace, so every replica serves the same certificate. Any replica may create
 * or renew it; writes are create-or-409 and replace-at-resourceVersion, so when two race the
 * first wins and the other reads the winner's. The CA bundle (the current CA, then the one it
 * replaced while still valid, so replicas still serving the old certificate stay trusted) is
 * copied into every webhook of the ValidatingWebhookConfiguration.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { planCertificates, type CertFacts, type CertPlan } from './cert-policy.js';
import { certFacts, createCa, createServing, pemBlocks, signedBy, type PemPair } from '../pki/certs.js';
import type { JsonPatchOp, WebhookKubeApi } from './kube.js';

/** Where the certificates live and what they must name. */
export interface SelfManagedOptions {
  api: WebhookKubeApi;
  namespace: string;
  secretName: string;
  sans: readonly string[];
  now?: () => Date;
  log?: (msg: string, fields?: object) => void;
}

/** The certificates in force after a check. */
export interface WebhookCertificates {
  serving: PemPair;
  /** PEM, current CA first: what the API server must trust. */
  caBundle: string;
  /** Set when this check wrote the Secret. */
  renewed?: string;
}

/** The Secret kept changing under us (or could not be read back); the next check retries. */
export class CertificateSyncError extends Error {
  override readonly name = 'CertificateSyncError';
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const unb64 = (text: string | undefined) => (text ? Buffer.from(text, 'base64').toString('utf8') : '');

interface StoredCerts {
  ca?: PemPair & { facts: CertFacts };
  caBundle: string;
  serving?: PemPair & { facts: CertFacts };
  servingSignedByCa: boolean;
}

async function pairFrom(certPem: string, keyPem: string): Promise<(PemPair & { facts: CertFacts }) | undefined> {
  if (!certPem || !keyPem) return undefined;
  try {
    return { certPem, keyPem, facts: await certFacts(certPem) };
  } catch {
    return undefined; // unreadable: treated as missing and replaced
  }
}

async function readStored(secret: V1Secret | undefined): Promise<StoredCerts> {
  const data = secret?.data ?? {};
  const caBundle = unb64(data['ca.crt']);
  const ca = await pairFrom(pemBlocks(caBundle)[0] ?? '', unb64(data['ca.key']));
  const serving = await pairFrom(unb64(data['tls.crt']), unb64(data['tls.key']));
  const servingSignedByCa = !!ca && !!serving && (await signedBy(serving.certPem, ca.certPem));
  return { ca, caBundle, serving, servingSignedByCa };
}

/** The CA bundle after replacing the CA: the new one, then the old one while it is valid. */
function nextBundle(newCa: string, stored: StoredCerts, now: Date): string {
  const keep = stored.ca && stored.ca.facts.notAfter > now ? [stored.ca.certPem] : [];
  return [newCa, ...keep].map((pem) => pem.trim()).join('\n') + '\n';
}

async function renew(plan: CertPlan, stored: StoredCerts, opts: SelfManagedOptions, now: Date) {
  if (plan.action !== 'renew-serving' || !stored.ca) {
    const ca = await createCa(now);
    return { ca, caBundle: nextBundle(ca.certPem, stored, now), serving: await createServing(ca, opts.sans, now) };
  }
  return { ca: stored.ca, caBundle: stored.caBundle, serving: await createServing(stored.ca, opts.sans, now) };
}

function secretBody(opts: SelfManagedOptions, certs: { ca: PemPair; caBundle: string; serving: PemPair }, existing?: V1Secret): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    // The type cannot change; a Secret made by hand keeps its own.
    type: existing?.type ?? 'kubernetes.io/tls',
    metadata: {
      name: opts.secretName,
      namespace: opts.namespace,
      // The replace only succeeds if nobody wrote the Secret since we read it.
      resourceVersion: existing?.metadata?.resourceVersion,
      annotations: existing?.metadata?.annotations,
      labels: { ...(existing?.metadata?.labels ?? {}), 'app.kubernetes.io/managed-by': 'kubevmm-operator' },
    },
    data: { 'ca.crt': b64(certs.caBundle), 'ca.key': b64(certs.ca.keyPem), 'tls.crt': b64(certs.serving.certPem), 'tls.key': b64(certs.serving.keyPem) },
  };
}

/**
 * Reads the Secret and returns its certificates, first creating or renewing them when they
 * are missing, unreadable, due for rotation or lack a name. Losing a race re-reads.
 */
export async function ensureCertificates(opts: SelfManagedOptions): Promise<WebhookCertificates> {
  const now = (opts.now ?? (() => new Date()))();
  for (let attempt = 0; attempt < 5; attempt++) {
    const secret = await opts.api.getSecret(opts.namespace, opts.secretName);
    const stored = await readStored(secret);
    const plan = planCertificates(now, { ca: stored.ca?.facts, serving: stored.serving?.facts, servingSignedByCa: stored.servingSignedByCa }, opts.sans);
    const kept = plan.action === 'keep' ? stored.serving : undefined;
    if (kept) return { serving: { certPem: kept.certPem, keyPem: kept.keyPem }, caBundle: stored.caBundle };
    const next = await renew(plan, stored, opts, now);
    const body = secretBody(opts, next, secret);
    const written = secret ? await opts.api.replaceSecret(body) : await opts.api.createSecret(body);
    if (written === 'exists' || written === 'conflict') {
      opts.log?.('another replica wrote the webhook certificates first; using theirs', { secret: opts.secretName });
      continue;
    }
    const reason = plan.action === 'keep' ? 'unreadable' : plan.reason;
    opts.log?.('webhook certificates written', { secret: `${opts.namespace}/${opts.secretName}`, action: plan.action, reason });
    return { serving: next.serving, caBundle: next.caBundle, renewed: reason };
  }
  throw new CertificateSyncError(`Secret ${opts.namespace}/${opts.secretName} kept changing while the webhook certificates were being written; will retry`);
}

/**
 * Sets `caBundle` on every webhook of the configuration whose bundle differs. One JSON patch
 * that also tests each webhook's name, so a concurrent reorder fails instead of patching the
 * wrong entry. Returns how many webhooks were patched, or undefined when the configuration
 * does not exist.
 */
export async function syncCaBundle(api: WebhookKubeApi, configuration: string, caBundle: string): Promise<number | undefined> {
  const config = await api.getWebhookConfiguration(configuration);
  if (!config) return undefined;
  const want = b64(caBundle);
  const ops: JsonPatchOp[] = [];
  (config.webhooks ?? []).forEach((hook, i) => {
    if (hook.clientConfig?.caBundle === want) return;
    ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: hook.name });
    ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: want });
  });
  if (ops.length) await api.patchWebhookConfiguration(configuration, ops);
  return ops.length / 2;
}
