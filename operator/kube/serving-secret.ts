/**
 * Self-managed serving certificates (the webhook's, the subresource server's): a CA and a
 * serving certificate kept in one Secret in the operator's namespace, so every replica of the
 * server presents the same certificate. The CA bundle (the current CA, then the one it
 * replaced while still valid, so replicas still serving the old certificate stay trusted) is
 * what the API server must trust: ca-bundle.ts copies it into the webhook configuration or
 * the APIService.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { certFacts, createCa, createServing, pemBlocks, signedBy, type PemPair } from '../pki/certs.js';
import { planCertificates, type CertFacts, type CertPlan } from '../pki/serving-policy.js';
import type { SecretStore } from './certificate-api.js';
import { secretText, syncOwnedSecret } from './owned-secret.js';

/** Keys of a serving Secret (kubernetes.io/tls, plus the CA and its key). */
export const SERVING_SECRET_KEYS = { caBundle: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;

/** Where the certificates live and what they must name. */
export interface ServingSecretOptions {
  api: SecretStore;
  namespace: string;
  secretName: string;
  sans: readonly string[];
  /** Common name of a CA made here (e.g. kubevmm-webhook-ca). */
  caName: string;
  now?: () => Date;
}

/** The certificates in force after a check. */
export interface ServingCertificates {
  serving: PemPair;
  /** PEM, current CA first: what the API server must trust. */
  caBundle: string;
  /** Set when this check wrote the Secret: why. */
  renewed?: string;
}

type Facts = PemPair & { facts: CertFacts };

interface StoredCerts {
  ca?: Facts;
  caBundle: string;
  serving?: Facts;
  servingSignedByCa: boolean;
}

async function pairFrom(certPem: string, keyPem: string): Promise<Facts | undefined> {
  if (!certPem || !keyPem) return undefined;
  try {
    return { certPem, keyPem, facts: await certFacts(certPem) };
  } catch {
    return undefined; // unreadable: treated as missing and replaced
  }
}

async function readStored(secret: V1Secret | undefined): Promise<StoredCerts> {
  const text = (key: string) => secretText(secret, key);
  const caBundle = text(SERVING_SECRET_KEYS.caBundle);
  const ca = await pairFrom(pemBlocks(caBundle)[0] ?? '', text(SERVING_SECRET_KEYS.caKey));
  const serving = await pairFrom(text(SERVING_SECRET_KEYS.cert), text(SERVING_SECRET_KEYS.key));
  const servingSignedByCa = !!ca && !!serving && (await signedBy(serving.certPem, ca.certPem));
  return { ca, caBundle, serving, servingSignedByCa };
}

/** The CA bundle after replacing the CA: the new one, then the old one while it is valid. */
function nextBundle(newCa: string, stored: StoredCerts, now: Date): string {
  const keep = stored.ca && stored.ca.facts.notAfter > now ? [stored.ca.certPem] : [];
  return [newCa, ...keep].map((pem) => pem.trim()).join('\n') + '\n';
}

async function renew(plan: CertPlan, stored: StoredCerts, opts: ServingSecretOptions, now: Date) {
  if (plan.action !== 'renew-serving' || !stored.ca) {
    const ca = await createCa(now, opts.caName);
    return { ca, caBundle: nextBundle(ca.certPem, stored, now), serving: await createServing(ca, opts.sans, now) };
  }
  return { ca: stored.ca, caBundle: stored.caBundle, serving: await createServing(stored.ca, opts.sans, now) };
}

/**
 * Reads the Secret and returns its certificates, first creating or renewing them when they
 * are missing, unreadable, due for rotation or lack a name. Losing a race re-reads.
 */
export async function ensureServingCertificates(opts: ServingSecretOptions): Promise<ServingCertificates> {
  const now = (opts.now ?? (() => new Date()))();
  const { result, written } = await syncOwnedSecret<ServingCertificates>({
    api: opts.api,
    namespace: opts.namespace,
    name: opts.secretName,
    decide: async (secret) => {
      const stored = await readStored(secret);
      const plan = planCertificates(now, { ca: stored.ca?.facts, serving: stored.serving?.facts, servingSignedByCa: stored.servingSignedByCa }, opts.sans);
      const kept = plan.action === 'keep' ? stored.serving : undefined;
      if (kept) return { keep: { serving: { certPem: kept.certPem, keyPem: kept.keyPem }, caBundle: stored.caBundle } };
      const next = await renew(plan, stored, opts, now);
      const write = { [SERVING_SECRET_KEYS.caBundle]: next.caBundle, [SERVING_SECRET_KEYS.caKey]: next.ca.keyPem, [SERVING_SECRET_KEYS.cert]: next.serving.certPem, [SERVING_SECRET_KEYS.key]: next.serving.keyPem };
      return { write, result: { serving: next.serving, caBundle: next.caBundle }, reason: plan.action === 'keep' ? 'unreadable' : plan.reason };
    },
  });
  return written ? { ...result, renewed: written } : result;
}
