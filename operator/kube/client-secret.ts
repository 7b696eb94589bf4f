/**
 * The launcher client certificate of another Deployment (the subresource server, ADR 0011),
 * kept in a Secret of the operator's namespace that the Deployment mounts: issued from the
 * launcher CA when missing, wrong or a third of its 30 days is left, and written only then.
 * The operator reads this Secret back by name (its Role allows it) to know its expiry; the
 * key never leaves the two.
 */
import { certFacts, keyMatches, signedBy, type CertFacts } from '../pki/certs.js';
import { CLIENT_SECRET_KEYS, planClientCertificate } from '../pki/client-secret.js';
import { issueClientTls, type LauncherAuthority } from '../pki/launcher.js';
import type { SecretStore } from './certificate-api.js';
import { secretText, syncOwnedSecret } from './owned-secret.js';

/** Where the Secret lives and whom it is for. */
export interface ClientSecretOptions {
  api: SecretStore;
  namespace: string;
  secretName: string;
  authority: LauncherAuthority;
  /** The certificate's common name (SUBRESOURCE_CLIENT_NAME for the subresource server). */
  commonName: string;
  now?: () => Date;
}

/** The certificate in force after a check. */
export interface ClientSecretState {
  notAfter: Date;
  /** Set when this check wrote the Secret: why. */
  renewed?: string;
}

async function factsOf(certPem: string): Promise<CertFacts | undefined> {
  return certPem ? certFacts(certPem).catch(() => undefined) : undefined;
}

/** Reads the Secret, issuing and writing a new certificate when the plan says so. */
export async function ensureClientSecret(opts: ClientSecretOptions): Promise<ClientSecretState> {
  const now = (opts.now ?? (() => new Date()))();
  const caPem = opts.authority.ca.certPem;
  const { result, written } = await syncOwnedSecret<ClientSecretState>({
    api: opts.api,
    namespace: opts.namespace,
    name: opts.secretName,
    decide: async (secret) => {
      const [certPem, keyPem, storedCa] = [CLIENT_SECRET_KEYS.cert, CLIENT_SECRET_KEYS.key, CLIENT_SECRET_KEYS.ca].map((k) => secretText(secret, k)) as [string, string, string];
      const cert = await factsOf(certPem);
      const stored = { cert, keyMatches: !!cert && keyMatches(certPem, keyPem), signedByCa: !!cert && (await signedBy(certPem, caPem)), caPem: storedCa };
      const plan = planClientCertificate(now, stored, { commonName: opts.commonName, caPem });
      if (plan.action === 'keep' && cert) return { keep: { notAfter: cert.notAfter } };
      const issued = await issueClientTls(opts.authority, opts.commonName, now);
      const write = { [CLIENT_SECRET_KEYS.cert]: issued.cert, [CLIENT_SECRET_KEYS.key]: issued.key, [CLIENT_SECRET_KEYS.ca]: issued.ca };
      return { write, result: { notAfter: issued.notAfter }, reason: plan.action === 'issue' ? plan.reason : 'unreadable' };
    },
  });
  return written ? { ...result, renewed: written } : result;
}
