// A launcher CA for tests and benchmarks, made by the operator's own PKI code: the per-VM credentials as the
// operator writes them into a Secret, laid out as files the way the pod's Secret volume does,
// and client certificates (good ones, and ones a launcher must refuse).
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CREDENTIAL_KEYS } from '../api/layout.js';
import { createCa, issueCertificate } from '../operator/pki/certs.js';
import { IMPORTER_CLIENT_KEYS } from '../api/contract/claim-source.js';
import { LAUNCHER_CA_LIFETIME_MS, issueClientTls, issueImporterClient, issueLauncherCredentials, issueSourceCredentials, type ClientTls, type LauncherAuthority, type VmIdentity } from '../operator/pki/launcher.js';

export type { ClientTls, LauncherAuthority };

/** A fresh launcher CA (what the operator keeps in its namespace). */
export async function testAuthority(name = 'test-launcher-ca'): Promise<LauncherAuthority> {
  return { ca: await createCa(new Date(), name, LAUNCHER_CA_LIFETIME_MS), deriveKey: randomBytes(32) };
}

/** Where a launcher finds its TLS files, as `launcher run --tls-cert --tls-key --client-ca` take them. */
export interface CredentialFiles {
  dir: string;
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  pskFile: string;
}

/** An object's serving credentials as PEM (its certificate for its UID, the key, the client CA), for a stand-in serving them. */
export async function serverTls(authority: LauncherAuthority, object: VmIdentity): Promise<{ cert: string; key: string; clientCa: string }> {
  const data = await issueLauncherCredentials(authority, object, new Date());
  return { cert: data[CREDENTIAL_KEYS.cert]!, key: data[CREDENTIAL_KEYS.key]!, clientCa: data[CREDENTIAL_KEYS.clientCa]! };
}

/** Writes a VM's credentials into `dir` under the Secret's key names (the pod's Secret volume). */
export async function writeLauncherCredentials(authority: LauncherAuthority, vm: VmIdentity, dir: string): Promise<CredentialFiles> {
  await mkdir(dir, { recursive: true });
  const data = await issueLauncherCredentials(authority, vm, new Date());
  await Promise.all(Object.entries(data).map(([key, value]) => writeFile(join(dir, key), value, { mode: 0o600 })));
  return {
    dir,
    certFile: join(dir, CREDENTIAL_KEYS.cert),
    keyFile: join(dir, CREDENTIAL_KEYS.key),
    clientCaFile: join(dir, CREDENTIAL_KEYS.clientCa),
    pskFile: join(dir, CREDENTIAL_KEYS.psk),
  };
}

/** A source pod's credentials (ADR 0019) for `image`, written into `dir` as its Secret volume lays them out. */
export async function writeSourceCredentials(authority: LauncherAuthority, image: VmIdentity, dir: string): Promise<Omit<CredentialFiles, 'pskFile'>> {
  await mkdir(dir, { recursive: true });
  const data = await issueSourceCredentials(authority, image, new Date());
  await Promise.all(Object.entries(data).map(([key, value]) => writeFile(join(dir, key), value, { mode: 0o600 })));
  return { dir, certFile: join(dir, CREDENTIAL_KEYS.cert), keyFile: join(dir, CREDENTIAL_KEYS.key), clientCaFile: join(dir, CREDENTIAL_KEYS.clientCa) };
}

/** The client certificate of the importer of image `imageUid` towards its source pod, as PEM. */
export async function importerClientTls(authority: LauncherAuthority, imageUid: string): Promise<{ cert: string; key: string; ca: string }> {
  const data = await issueImporterClient(authority, imageUid, new Date());
  return { cert: data[IMPORTER_CLIENT_KEYS.cert]!, key: data[IMPORTER_CLIENT_KEYS.key]!, ca: authority.ca.certPem };
}

/** A client certificate from `authority`, as the operator presents it. */
export function testClient(authority: LauncherAuthority, name = 'kubevmm-operator'): Promise<ClientTls> {
  return issueClientTls(authority, name, new Date());
}

/** A certificate from `authority` that is for serving, not for clients (another launcher's). */
export async function servingCertAsClient(authority: LauncherAuthority): Promise<ClientTls> {
  const pair = await issueCertificate(authority.ca, { subject: 'CN=launcher other/vm,O=kubevmm', sans: ['other.launcher.kubevmm.invalid'], usage: 'server', lifetimeMs: 3600_000, now: new Date() });
  return { ca: authority.ca.certPem, cert: pair.certPem, key: pair.keyPem, notAfter: new Date(Date.now() + 3600_000) };
}

/** An API server's front proxy as an aggregated API server sees it (ADR 0011), and impostors. */
export interface FrontProxyPki {
  /** The requestheader CA (`requestheader-client-ca-file`). */
  caPem: string;
  /** The API server's proxy client certificate, `CN=front-proxy-client`. */
  client: { certPem: string; keyPem: string };
  /** Same name, another CA. */
  foreign: { certPem: string; keyPem: string };
  /** The requestheader CA's, but for serving. */
  serving: { certPem: string; keyPem: string };
  /** The requestheader CA's, expired an hour ago. */
  expired: { certPem: string; keyPem: string };
  /** The requestheader CA's, another common name. */
  otherName: { certPem: string; keyPem: string };
}

/** Certificates for tests of the front-proxy check. */
export async function frontProxyPki(): Promise<FrontProxyPki> {
  const now = new Date();
  const [ca, otherCa] = await Promise.all([createCa(now, 'front-proxy-ca'), createCa(now, 'front-proxy-ca')]);
  const client = { subject: 'CN=front-proxy-client', sans: [], usage: 'client' as const, lifetimeMs: 3600_000, now };
  const [good, foreign, serving, expired, otherName] = await Promise.all([
    issueCertificate(ca, client),
    issueCertificate(otherCa, client),
    issueCertificate(ca, { ...client, usage: 'server' }),
    issueCertificate(ca, { ...client, now: new Date(now.getTime() - 2 * 3600_000) }),
    issueCertificate(ca, { ...client, subject: 'CN=someone-else' }),
  ]);
  return { caPem: ca.certPem, client: good, foreign, serving, expired, otherName };
}

/** A serving certificate for `sans` (DNS names or IP addresses) and the CA that issued it. */
export async function testServing(sans: readonly string[], lifetimeMs = 3600_000): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const now = new Date();
  const ca = await createCa(now, 'test-serving-ca');
  const pair = await issueCertificate(ca, { subject: `CN=${sans[0] ?? 'test'}`, sans, usage: 'server', lifetimeMs, now });
  return { caPem: ca.certPem, ...pair };
}
