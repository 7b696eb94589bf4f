/**
 * A launcher client certificate the operator hands to another Deployment through a Secret in
 * its own namespace (the subresource server's, ADR 0011): what the Secret holds, and when it
 * is issued again. Pure: the clock and the stored certificate's facts are passed in.
 */
import type { CertFacts } from './certs.js';
import { rotationDue } from './serving-policy.js';

/**
 * Keys of the Secret: a kubernetes.io/tls pair plus `ca.crt`, the launcher CA the client
 * verifies launchers with. The launcher CA is not rotated in place (docs/security.md), so
 * `ca.crt` holds one certificate.
 */
export const CLIENT_SECRET_KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;

/** What the Secret holds, as far as the plan cares. */
export interface StoredClientCert {
  /** The certificate's facts; undefined when it is missing or unreadable. */
  cert?: CertFacts;
  /** tls.key is the certificate's key. */
  keyMatches: boolean;
  /** The certificate's signature verifies with the launcher CA's key. */
  signedByCa: boolean;
  /** ca.crt as stored. */
  caPem: string;
}

/** What the certificate must be. */
export interface WantedClientCert {
  /** Its common name, e.g. kubevmm-subresources. */
  commonName: string;
  /** The launcher CA certificate (PEM). */
  caPem: string;
}

/** Keep the Secret, or issue a new certificate (with the reason, for the log). */
export type ClientCertPlan = { action: 'keep' } | { action: 'issue'; reason: string };

const samePem = (a: string, b: string) => a.trim() === b.trim();

/** Decides whether the stored client certificate is still the one to hand out at `now`. */
export function planClientCertificate(now: Date, stored: StoredClientCert, want: WantedClientCert): ClientCertPlan {
  const { cert } = stored;
  if (!cert) return { action: 'issue', reason: 'no client certificate yet' };
  if (!stored.keyMatches) return { action: 'issue', reason: 'tls.key is missing or not the key of tls.crt' };
  if (cert.commonName !== want.commonName) return { action: 'issue', reason: `the certificate is for "${cert.commonName ?? ''}", not "${want.commonName}"` };
  if (!stored.signedByCa) return { action: 'issue', reason: 'the certificate is not signed by the launcher CA (was the CA replaced?)' };
  if (!samePem(stored.caPem, want.caPem)) return { action: 'issue', reason: 'ca.crt is not the launcher CA' };
  if (rotationDue(now, cert)) return { action: 'issue', reason: `the certificate expires at ${cert.notAfter.toISOString()}` };
  return { action: 'keep' };
}
