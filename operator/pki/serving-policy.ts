/**
 * When the operator's self-managed serving certificates (the webhook's, the subresource
 * server's) are replaced, and what a serving certificate must name. Pure: the clock and the
 * certificates' facts are passed in.
 */
import type { CertFacts } from './certs.js';

export type { CertFacts } from './certs.js';

/**
 * The names the API server may use to reach a Service (`<service>.<ns>.svc` is the one it
 * uses, for webhooks and APIServices alike), then the extra names (e.g. 127.0.0.1 for a
 * webhook configured by URL).
 */
export function serviceSans(service: string, namespace: string, extra: readonly string[] = []): string[] {
  const names = [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, ...extra];
  return [...new Set(names.map((n) => n.trim()).filter(Boolean))];
}

/** True when less than a third of the certificate's lifetime is left (or it is not valid now). */
export function rotationDue(now: Date, cert: Pick<CertFacts, 'notBefore' | 'notAfter'>): boolean {
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  const left = cert.notAfter.getTime() - now.getTime();
  return now < cert.notBefore || left < lifetime / 3;
}

/** What the certificates in the Secret are, as far as the plan cares. */
export interface CurrentCerts {
  ca?: CertFacts;
  serving?: CertFacts;
  /** The serving certificate's signature verifies with the CA's key. */
  servingSignedByCa: boolean;
}

/** Keep the certificates, issue a new serving certificate, or start over with a new CA too. */
export type CertPlan = { action: 'keep' } | { action: 'renew-serving' | 'renew-all'; reason: string };

/** Decides what to do with the certificates in the Secret, given the names they must cover. */
export function planCertificates(now: Date, current: CurrentCerts, wantSans: readonly string[]): CertPlan {
  const { ca, serving } = current;
  if (!ca) return { action: 'renew-all', reason: 'no CA yet' };
  if (rotationDue(now, ca)) return { action: 'renew-all', reason: `the CA expires at ${ca.notAfter.toISOString()}` };
  if (!serving) return { action: 'renew-serving', reason: 'no serving certificate yet' };
  if (!current.servingSignedByCa) return { action: 'renew-serving', reason: 'the serving certificate is not signed by the CA' };
  if (rotationDue(now, serving)) return { action: 'renew-serving', reason: `the serving certificate expires at ${serving.notAfter.toISOString()}` };
  const missing = wantSans.filter((n) => !serving.sans.includes(n));
  if (missing.length) return { action: 'renew-serving', reason: `the serving certificate does not name ${missing.join(', ')}` };
  return { action: 'keep' };
}
