/**
 * The launcher CA's Secret in the operator's own namespace: read at start-up, created by the
 * first replica that finds none (create-or-409, then read the winner's). It is the only
 * Secret the operator reads besides the webhook's, and RBAC grants the read by name in this
 * namespace only.
 */
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { CertificateError, certFacts, createCa } from '../pki/certs.js';
import { LAUNCHER_CA_LIFETIME_MS, type LauncherAuthority } from '../pki/launcher.js';

/** Keys of the CA Secret. */
export const CA_SECRET_KEYS = { cert: 'ca.crt', key: 'ca.key', derive: 'derive.key' } as const;

/** The calls this needs (ClusterApi has them). */
export interface CaSecretApi {
  getSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  createSecret(secret: V1Secret): Promise<'created' | 'exists'>;
}

/** Where the CA lives. */
export interface LauncherCaOptions {
  api: CaSecretApi;
  namespace: string;
  name: string;
  now?: () => Date;
  log?: (msg: string, fields?: object) => void;
}

const unb64 = (text: string | undefined) => Buffer.from(text ?? '', 'base64');

/** The authority in a Secret, or an error saying what is wrong with it and how to start over. */
async function authorityOf(secret: V1Secret, where: string): Promise<LauncherAuthority> {
  const data = secret.data ?? {};
  const ca = { certPem: unb64(data[CA_SECRET_KEYS.cert]).toString('utf8'), keyPem: unb64(data[CA_SECRET_KEYS.key]).toString('utf8') };
  const deriveKey = unb64(data[CA_SECRET_KEYS.derive]);
  const fix = `delete it to have a new CA made (running launchers then need a restart: docs/security.md)`;
  if (!ca.certPem || !ca.keyPem || deriveKey.length < 32) {
    throw new CertificateError(`Secret ${where} lacks ${Object.values(CA_SECRET_KEYS).join(', ')}; ${fix}`);
  }
  try {
    await certFacts(ca.certPem);
  } catch (err) {
    throw new CertificateError(`Secret ${where}: ${(err as Error).message}; ${fix}`);
  }
  return { ca, deriveKey };
}

function newSecret(opts: LauncherCaOptions, ca: { certPem: string; keyPem: string }): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: opts.name, namespace: opts.namespace, labels: { 'app.kubernetes.io/managed-by': 'kubevmm-operator' } },
    data: {
      [CA_SECRET_KEYS.cert]: Buffer.from(ca.certPem).toString('base64'),
      [CA_SECRET_KEYS.key]: Buffer.from(ca.keyPem).toString('base64'),
      [CA_SECRET_KEYS.derive]: randomBytes(32).toString('base64'),
    },
  };
}

/** Reads the launcher CA, creating it first when there is none. */
export async function loadLauncherAuthority(opts: LauncherCaOptions): Promise<LauncherAuthority> {
  const where = `${opts.namespace}/${opts.name}`;
  const existing = await opts.api.getSecret(opts.namespace, opts.name);
  if (existing) return authorityOf(existing, where);
  const ca = await createCa((opts.now ?? (() => new Date()))(), 'kubevmm-launcher-ca', LAUNCHER_CA_LIFETIME_MS);
  const body = newSecret(opts, ca);
  if ((await opts.api.createSecret(body)) === 'created') {
    opts.log?.('launcher CA created', { secret: where });
    return { ca, deriveKey: unb64(body.data?.[CA_SECRET_KEYS.derive]) };
  }
  // Another replica made it first: use theirs.
  const winner = await opts.api.getSecret(opts.namespace, opts.name);
  if (!winner) throw new CertificateError(`Secret ${where} was created and deleted while the launcher CA was being read; will retry`);
  return authorityOf(winner, where);
}
