/**
 * Who is asking (ADR 0011, step 2). The API server proxies a user's request to the subresource
 * server with the user's name, groups and extras in headers, and proves that it is the API
 * server with its front-proxy client certificate. Anyone on the network can write those
 * headers, so they are read only after the certificate checks out against the requestheader
 * CA (and, when the cluster lists them, the allowed names) of the ConfigMap
 * `kube-system/extension-apiserver-authentication`. Pure: the TLS peer's certificate, the
 * configuration, the headers and the time in; an identity or a typed refusal out.
 */
import { X509Certificate } from 'node:crypto';
import { pemBlocks } from '../../api/pem.js';

/** The ConfigMap that the API server publishes its front-proxy settings in. */
export const AUTHENTICATION_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' } as const;

/** The API server's front-proxy settings, parsed. */
export interface RequestHeaderConfig {
  /** `requestheader-client-ca-file`: the CAs whose client certificates may assert users. */
  clientCas: readonly X509Certificate[];
  /** `requestheader-allowed-names`: common names the certificate must have; empty: any. */
  allowedNames: readonly string[];
  /** Header names, lower-case (Node lower-cases the request's). */
  usernameHeaders: readonly string[];
  uidHeaders: readonly string[];
  groupHeaders: readonly string[];
  extraHeaderPrefixes: readonly string[];
}

/** The user a request acts for, as a SubjectAccessReview takes it. */
export interface UserIdentity {
  user: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** Why a request's identity is not believed. */
export interface AuthRefusal {
  reason: 'FrontProxyCertificateRequired' | 'FrontProxyCertificateRejected' | 'NoUser';
  message: string;
}

/** The ConfigMap cannot be used (a key is missing or malformed); the message names the key. */
export class RequestHeaderConfigError extends Error {
  readonly reason = 'RequestHeaderConfigInvalid';
  override readonly name = 'RequestHeaderConfigError';
}

const KEY = {
  ca: 'requestheader-client-ca-file',
  allowedNames: 'requestheader-allowed-names',
  username: 'requestheader-username-headers',
  uid: 'requestheader-uid-headers',
  group: 'requestheader-group-headers',
  extra: 'requestheader-extra-headers-prefix',
} as const;

function stringList(data: Readonly<Record<string, string>>, key: string): string[] {
  const raw = data[key];
  if (raw === undefined || raw === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new RequestHeaderConfigError(`${key} in ${AUTHENTICATION_CONFIGMAP.namespace}/${AUTHENTICATION_CONFIGMAP.name} is not JSON (a list of strings is expected)`);
  }
  if (value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new RequestHeaderConfigError(`${key} in ${AUTHENTICATION_CONFIGMAP.namespace}/${AUTHENTICATION_CONFIGMAP.name} is not a list of strings`);
  }
  return value;
}

/** The certificates of a PEM bundle. */
export function parseCertificates(pem: string, what: string): X509Certificate[] {
  return pemBlocks(pem).map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new RequestHeaderConfigError(`${what}: certificate ${i + 1} cannot be read: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}

/**
 * Reads the ConfigMap's data. Without a requestheader CA the API server has no front proxy
 * configured, and no request could ever be believed: that is an error naming the API
 * server's flag, not a server that refuses everyone silently.
 */
export function requestHeaderConfig(data: Readonly<Record<string, string>>): RequestHeaderConfig {
  const where = `${AUTHENTICATION_CONFIGMAP.namespace}/${AUTHENTICATION_CONFIGMAP.name}`;
  const clientCas = parseCertificates(data[KEY.ca] ?? '', `${KEY.ca} in ${where}`);
  if (clientCas.length === 0) {
    throw new RequestHeaderConfigError(`${where} has no ${KEY.ca}: start the API server with --requestheader-client-ca-file (and --proxy-client-cert-file) so it can proxy to aggregated APIs`);
  }
  const lower = (list: string[]) => list.map((h) => h.toLowerCase());
  const usernameHeaders = lower(stringList(data, KEY.username));
  if (usernameHeaders.length === 0) throw new RequestHeaderConfigError(`${where} has no ${KEY.username}: start the API server with --requestheader-username-headers=X-Remote-User`);
  return {
    clientCas,
    allowedNames: stringList(data, KEY.allowedNames),
    usernameHeaders,
    uidHeaders: lower(stringList(data, KEY.uid)),
    groupHeaders: lower(stringList(data, KEY.group)),
    extraHeaderPrefixes: lower(stringList(data, KEY.extra)),
  };
}

/** Extended key usages that let a certificate authenticate a client. */
const CLIENT_AUTH = new Set(['1.3.6.1.5.5.7.3.2', '2.5.29.37.0']);

function outsideValidity(cert: X509Certificate, now: Date): string | undefined {
  if (now < new Date(cert.validFrom)) return `not valid before ${cert.validFrom}`;
  if (now > new Date(cert.validTo)) return `expired ${cert.validTo}`;
  return undefined;
}

/**
 * Why the leaf is not signed by one of the CAs; undefined when it is. Only leaves the CA
 * signed itself are taken: kubeadm, kind, k3s and the project's own clusters issue the
 * front-proxy certificate straight from the front-proxy CA, and a verifier of intermediate
 * chains would also have to honour path lengths and name constraints to be safe.
 */
function signatureProblem(leaf: X509Certificate, roots: readonly X509Certificate[], now: Date): string | undefined {
  const expired = outsideValidity(leaf, now);
  if (expired) return `it is ${expired}`;
  const root = roots.find((r) => leaf.checkIssued(r) && leaf.verify(r.publicKey));
  if (!root) return 'it is not signed by the requestheader CA';
  const caExpired = outsideValidity(root, now);
  return caExpired ? `the requestheader CA is ${caExpired}` : undefined;
}

/** The subject's common names (exactly as encoded: a value cannot smuggle a second one in). */
function commonNames(cert: X509Certificate): string[] {
  const cn = (cert.toLegacyObject().subject as Record<string, string | string[] | undefined>).CN;
  return cn === undefined ? [] : Array.isArray(cn) ? cn : [cn];
}

/** The problem with the peer's certificate as a front proxy's; undefined when it is one. */
function certificateProblem(leaf: X509Certificate, config: RequestHeaderConfig, now: Date): string | undefined {
  const usages = leaf.keyUsage; // extended key usages; none listed means any (as Go reads it)
  if (usages && !usages.some((u) => CLIENT_AUTH.has(u))) return 'it is not for client authentication (extended key usage clientAuth)';
  const problem = signatureProblem(leaf, config.clientCas, now);
  if (problem) return problem;
  if (config.allowedNames.length === 0) return undefined;
  const names = commonNames(leaf);
  if (names.length === 1 && config.allowedNames.includes(names[0]!)) return undefined;
  return `its common name ${names.length ? names.map((n) => JSON.stringify(n)).join(', ') : '(none)'} is not one of requestheader-allowed-names (${config.allowedNames.join(', ')})`;
}

/** Headers as Node's `headersDistinct` gives them: lower-case names, every value. */
export type DistinctHeaders = Readonly<Record<string, readonly string[] | undefined>>;

function firstValue(headers: DistinctHeaders, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = headers[name]?.find((v) => v.length > 0);
    if (value) return value;
  }
  return undefined;
}

function extras(headers: DistinctHeaders, prefixes: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [header, values] of Object.entries(headers)) {
    const prefix = prefixes.find((p) => header.startsWith(p) && header.length > p.length);
    if (!prefix || !values) continue;
    const raw = header.slice(prefix.length);
    let key: string;
    try {
      key = decodeURIComponent(raw).toLowerCase();
    } catch {
      key = raw; // not percent-encoding: the name as sent, as Kubernetes does
    }
    out[key] = [...(out[key] ?? []), ...values];
  }
  return out;
}

/** What {@link authenticateRequest} looks at. */
export interface RequestFacts {
  /** The TLS peer's certificate, DER (undefined: none presented). */
  peerCertificate: Buffer | undefined;
  headers: DistinctHeaders;
  now: Date;
}

/** The user a request acts for, when the API server sent it; otherwise why it is refused. */
export function authenticateRequest(facts: RequestFacts, config: RequestHeaderConfig): { ok: true; identity: UserIdentity } | { ok: false; refusal: AuthRefusal } {
  if (!facts.peerCertificate || facts.peerCertificate.length === 0) {
    return { ok: false, refusal: { reason: 'FrontProxyCertificateRequired', message: 'this server is reached through the Kubernetes API server only (an aggregated API): no front-proxy client certificate was presented, so no identity headers are believed' } };
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(facts.peerCertificate);
  } catch {
    return { ok: false, refusal: { reason: 'FrontProxyCertificateRejected', message: 'the client certificate cannot be read' } };
  }
  const problem = certificateProblem(leaf, config, facts.now);
  if (problem) return { ok: false, refusal: { reason: 'FrontProxyCertificateRejected', message: `the client certificate is not the API server's front-proxy certificate: ${problem}` } };
  const user = firstValue(facts.headers, config.usernameHeaders);
  if (!user) return { ok: false, refusal: { reason: 'NoUser', message: `the API server sent no user (headers ${config.usernameHeaders.join(', ')})` } };
  const uid = firstValue(facts.headers, config.uidHeaders);
  const groups = config.groupHeaders.flatMap((name) => (facts.headers[name] ?? []).filter((g) => g.length > 0));
  return { ok: true, identity: { user, ...(uid ? { uid } : {}), groups, extra: extras(facts.headers, config.extraHeaderPrefixes) } };
}
