/**
 * The launchers' PKI (ADR 0009): one CA the operator holds in its own namespace issues each
 * VM's serving certificate and the client certificates of whoever drives launchers (the
 * operator itself, next the subresource server). The NBD key of a VM is derived from a
 * second secret beside the CA, so writing a VM's credentials again (renewal, a VM recreated
 * under the same name) never needs the old ones back.
 */
import { createHmac } from 'node:crypto';
import { IMPORTER_CLIENT_KEYS, importerClientName, sourceServerName } from '../../api/contract/claim-source.js';
import { CREDENTIAL_KEYS, LAUNCHER_SHARED_NAME, NBD_EXPORT, launcherServerName } from '../../api/layout.js';
import { certFacts, issueCertificate, type PemPair } from './certs.js';

/** The launcher CA: 10 years. Rotating it means restarting every launcher (docs/security.md). */
export const LAUNCHER_CA_LIFETIME_MS = 10 * 365 * 24 * 3600_000;
/** A VM's serving certificate: one year, renewed by the operator when a third is left. */
export const LAUNCHER_CERT_LIFETIME_MS = 365 * 24 * 3600_000;
/** A client certificate: 30 days, re-issued in memory when a third is left. */
export const CLIENT_CERT_LIFETIME_MS = 30 * 24 * 3600_000;

/** What the operator holds: the CA and the key NBD keys are derived from. */
export interface LauncherAuthority {
  ca: PemPair;
  /** 32 random bytes; never leaves the operator's namespace. */
  deriveKey: Buffer;
}

/** The VM a credential is for. */
export interface VmIdentity {
  name: string;
  namespace: string;
  uid: string;
}

/** The VM's NBD TLS-PSK line (`kubevmm:<hex>`): the same for the VM's whole life, different for any other VM. */
export function nbdPsk(deriveKey: Buffer, vmUid: string): string {
  const key = createHmac('sha256', deriveKey).update(`kubevmm nbd-psk v1\0${vmUid}`).digest('hex');
  return `${NBD_EXPORT.pskUser}:${key}`;
}

/** The data of a VM's credentials Secret (CREDENTIAL_KEYS), freshly issued. */
export async function issueLauncherCredentials(authority: LauncherAuthority, vm: VmIdentity, now: Date): Promise<Record<string, string>> {
  const serving = await issueCertificate(authority.ca, {
    subject: `CN=launcher ${vm.namespace}/${vm.name},O=kubevmm`,
    sans: [launcherServerName(vm.uid), LAUNCHER_SHARED_NAME],
    usage: 'server',
    lifetimeMs: LAUNCHER_CERT_LIFETIME_MS,
    now,
  });
  return {
    [CREDENTIAL_KEYS.cert]: serving.certPem,
    [CREDENTIAL_KEYS.key]: serving.keyPem,
    [CREDENTIAL_KEYS.clientCa]: authority.ca.certPem,
    [CREDENTIAL_KEYS.psk]: nbdPsk(authority.deriveKey, vm.uid),
  };
}

/** An import's lifetime at most: a source pod's certificate and its importer's client certificate. */
export const COPY_CERT_LIFETIME_MS = 7 * 24 * 3600_000;

/**
 * The data of a source pod's Secret (ADR 0019): a serving certificate for
 * `sourceServerName(image UID)` and the CA whose client certificates it checks (it serves only
 * the one whose common name is `importerClientName(image UID)`).
 */
export async function issueSourceCredentials(authority: LauncherAuthority, image: VmIdentity, now: Date): Promise<Record<string, string>> {
  const serving = await issueCertificate(authority.ca, { subject: `CN=source ${image.namespace}/${image.name},O=kubevmm`, sans: [sourceServerName(image.uid)], usage: 'server', lifetimeMs: COPY_CERT_LIFETIME_MS, now });
  return { [CREDENTIAL_KEYS.cert]: serving.certPem, [CREDENTIAL_KEYS.key]: serving.keyPem, [CREDENTIAL_KEYS.clientCa]: authority.ca.certPem };
}

/** The importer's client certificate towards its source pod (IMPORTER_CLIENT_KEYS of its Secret). */
export async function issueImporterClient(authority: LauncherAuthority, imageUid: string, now: Date): Promise<Record<string, string>> {
  const pair = await issueCertificate(authority.ca, { subject: `CN=${importerClientName(imageUid)},O=kubevmm`, sans: [], usage: 'client', lifetimeMs: COPY_CERT_LIFETIME_MS, now });
  return { [IMPORTER_CLIENT_KEYS.cert]: pair.certPem, [IMPORTER_CLIENT_KEYS.key]: pair.keyPem };
}

/** A client's TLS material for reaching launchers: its certificate and key, and the CA to verify them by. */
export interface ClientTls {
  ca: string;
  cert: string;
  key: string;
  notAfter: Date;
}

/** Issues a client certificate (`CN=<name>,O=kubevmm`, clientAuth only). */
export async function issueClientTls(authority: LauncherAuthority, name: string, now: Date): Promise<ClientTls> {
  const pair = await issueCertificate(authority.ca, { subject: `CN=${name},O=kubevmm`, sans: [], usage: 'client', lifetimeMs: CLIENT_CERT_LIFETIME_MS, now });
  const { notAfter } = await certFacts(pair.certPem);
  return { ca: authority.ca.certPem, cert: pair.certPem, key: pair.keyPem, notAfter };
}

/** True when less than a third of a `lifetimeMs` certificate's life is left at `now`. */
export function renewalDue(notAfter: Date, lifetimeMs: number, now: Date): boolean {
  return notAfter.getTime() - now.getTime() < lifetimeMs / 3;
}

/**
 * The operator's own client identity, issued in memory from the authority and replaced
 * before it runs out; `current()` is what every launcher call presents.
 */
export class ClientIdentity {
  private issued: Promise<ClientTls> | undefined;

  constructor(
    private readonly authority: LauncherAuthority,
    private readonly name: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The client certificate in force, issuing a new one when due. */
  async current(): Promise<ClientTls> {
    const now = this.now();
    const held = this.issued ? await this.issued.catch(() => undefined) : undefined;
    if (held && !renewalDue(held.notAfter, CLIENT_CERT_LIFETIME_MS, now)) return held;
    this.issued = issueClientTls(this.authority, this.name, now);
    return this.issued;
  }
}
