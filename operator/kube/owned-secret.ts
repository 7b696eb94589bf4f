/**
 * A Secret in the operator's namespace whose content the operator makes (self-managed serving
 * certificates, the subresource server's client certificate): read it, let the caller decide
 * whether it is still good, and write it only then. Writes are create-or-409 and
 * replace-at-resourceVersion, so when two writers race the first wins and the other reads
 * the winner's content and decides again.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { SecretStore } from './certificate-api.js';

/** Keep what the Secret holds, or write new data (values as text; base64 is done here). */
export type SecretDecision<T> = { keep: T } | { write: Record<string, string>; result: T; reason: string };

/** What {@link syncOwnedSecret} needs. */
export interface OwnedSecretOptions<T> {
  api: SecretStore;
  namespace: string;
  name: string;
  /** Decides from the Secret as read (undefined: there is none). */
  decide: (secret: V1Secret | undefined) => Promise<SecretDecision<T>>;
}

/** The outcome: the content in force, and why it was written when this call wrote it. */
export interface OwnedSecretResult<T> {
  result: T;
  written?: string;
}

/** The Secret kept changing under us (or could not be read back); the next check retries. */
export class CertificateSyncError extends Error {
  override readonly name = 'CertificateSyncError';
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** The text of one key of a Secret ('' when absent). */
export function secretText(secret: V1Secret | undefined, key: string): string {
  const value = secret?.data?.[key];
  return value ? Buffer.from(value, 'base64').toString('utf8') : '';
}

function secretBody(namespace: string, name: string, data: Record<string, string>, existing?: V1Secret): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    // The type cannot change; a Secret made by hand keeps its own.
    type: existing?.type ?? 'kubernetes.io/tls',
    metadata: {
      name,
      namespace,
      // The replace only succeeds if nobody wrote the Secret since we read it.
      resourceVersion: existing?.metadata?.resourceVersion,
      annotations: existing?.metadata?.annotations,
      labels: { ...(existing?.metadata?.labels ?? {}), 'app.kubernetes.io/managed-by': 'kubevmm-operator' },
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
}

/** Reads the Secret, and writes what `decide` asks for; losing a race reads and decides again. */
export async function syncOwnedSecret<T>(opts: OwnedSecretOptions<T>): Promise<OwnedSecretResult<T>> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const secret = await opts.api.getSecret(opts.namespace, opts.name);
    const decision = await opts.decide(secret);
    if ('keep' in decision) return { result: decision.keep };
    const body = secretBody(opts.namespace, opts.name, decision.write, secret);
    const written = secret ? await opts.api.replaceSecret(body) : await opts.api.createSecret(body);
    if (written === 'exists' || written === 'conflict') continue;
    return { result: decision.result, written: decision.reason };
  }
  throw new CertificateSyncError(`Secret ${opts.namespace}/${opts.name} kept changing while it was being written; will retry`);
}
