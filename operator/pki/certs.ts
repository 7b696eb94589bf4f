/**
 * The operator's small PKIs (the webhook's, the launchers'): ECDSA P-256 CAs and the
 * certificates they sign, made with @peculiar/x509 on Node's WebCrypto, all PEM
 * (certificates, PKCS#8 keys) so they go into kubernetes.io/tls Secrets and straight into
 * node:tls.
 */
import { pemBlocks } from '../../api/pem.js';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';

const crypto = webcrypto as unknown as Crypto;

type X509Lib = typeof X509;
let loading: Promise<X509Lib> | undefined;

/**
 * @peculiar/x509, loaded after reflect-metadata (its tsyringe needs it). A dynamic import, because module
 * loaders (jest's among them) may evaluate a CommonJS dependency before a sibling import.
 */
function lib(): Promise<X509Lib> {
  loading ??= import('reflect-metadata').then(() => import('@peculiar/x509'));
  return loading;
}
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

/** Certificates start this much in the past, so a node whose clock lags still accepts them. */
export const BACKDATE_MS = 5 * 60_000;
/** Default lifetime of a CA: 5 years. */
export const CA_LIFETIME_MS = 5 * 365 * 24 * 3600_000;
/** Default lifetime of a webhook serving certificate: 90 days. */
export const SERVING_LIFETIME_MS = 90 * 24 * 3600_000;

/** The facts of one certificate a renewal plan needs. */
export interface CertFacts {
  notBefore: Date;
  notAfter: Date;
  /** Subject alternative names (DNS names and IP addresses, as text). */
  sans: readonly string[];
  /** The subject's common name, when it has one. */
  commonName?: string;
}

/** Splits names into DNS names and IP addresses. */
export function sanKinds(names: readonly string[]): { dns: string[]; ip: string[] } {
  return { dns: names.filter((n) => isIP(n) === 0), ip: names.filter((n) => isIP(n) !== 0) };
}

/** A certificate and its private key, PEM. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** A certificate could not be read. */
export class CertificateError extends Error {
  override readonly name = 'CertificateError';
}

async function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

async function keyPem(key: CryptoKey): Promise<string> {
  const x509 = await lib();
  return x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** Creates a self-signed CA valid from (now - 5 min) for `lifetimeMs` (default five years). */
export async function createCa(now: Date, commonName = 'kubevmm-webhook-ca', lifetimeMs = CA_LIFETIME_MS): Promise<PemPair> {
  const x509 = await lib();
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${commonName}`,
      keys,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + lifetimeMs),
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

/** What {@link issueCertificate} puts into a certificate. */
export interface CertificateRequest {
  /** Subject DN, e.g. `CN=kubevmm-operator,O=kubevmm`. */
  subject: string;
  /** DNS names and IP addresses. */
  sans: readonly string[];
  /** serverAuth or clientAuth: a certificate is one or the other, never both. */
  usage: 'server' | 'client';
  lifetimeMs: number;
  now: Date;
}

/** Issues a certificate signed by `ca`, never valid past the CA. */
export async function issueCertificate(ca: PemPair, request: CertificateRequest): Promise<PemPair> {
  const x509 = await lib();
  const caCert = await parse(ca.certPem);
  const caKey = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(ca.keyPem), ALGORITHM, false, ['sign']);
  const keys = await newKeys();
  const { dns, ip } = sanKinds(request.sans);
  const { now } = request;
  const notAfter = Math.min(now.getTime() + request.lifetimeMs, caCert.notAfter.getTime());
  const names = [...dns.map((value) => ({ type: 'dns' as const, value })), ...ip.map((value) => ({ type: 'ip' as const, value }))];
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: request.subject,
      issuer: caCert.subject,
      publicKey: keys.publicKey,
      signingKey: caKey,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(notAfter),
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([request.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
        ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

/**
 * Issues a webhook serving certificate for `sans` (DNS names and IP addresses) signed by
 * `ca`, valid for 90 days but never past the CA.
 */
export async function createServing(ca: PemPair, sans: readonly string[], now: Date): Promise<PemPair> {
  const { dns, ip } = sanKinds(sans);
  return issueCertificate(ca, { subject: `CN=${dns[0] ?? ip[0] ?? 'kubevmm-webhook'}`, sans, usage: 'server', lifetimeMs: SERVING_LIFETIME_MS, now });
}

export { pemBlocks } from '../../api/pem.js';

function firstPem(pem: string): string {
  const first = pemBlocks(pem)[0];
  if (!first) throw new CertificateError('no PEM certificate found');
  return first;
}

async function parse(pem: string): Promise<X509.X509Certificate> {
  const x509 = await lib();
  try {
    return new x509.X509Certificate(firstPem(pem));
  } catch (err) {
    throw new CertificateError(`not a readable certificate: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Validity and names of the first certificate in `pem`. */
export async function certFacts(pem: string): Promise<CertFacts> {
  const x509 = await lib();
  const cert = await parse(pem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const [commonName] = cert.subjectName.getField('CN');
  return { notBefore: cert.notBefore, notAfter: cert.notAfter, sans: san ? san.names.toJSON().map((n) => n.value) : [], ...(commonName ? { commonName } : {}) };
}

/** True when `keyPem` is the private key of the first certificate in `certPem`. */
export function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(firstPem(certPem)).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** True when the first certificate in `certPem` was signed by the first one in `caPem`. */
export async function signedBy(certPem: string, caPem: string): Promise<boolean> {
  try {
    const [cert, ca] = await Promise.all([parse(certPem), parse(caPem)]);
    return await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }, crypto);
  } catch {
    return false;
  }
}
