/**
 * The flags naming what the operator keeps for the subresource server (ADR 0011), each also
 * read from its KUBEVMM_SUBRESOURCES_* variable (the chart sets those when
 * `subresources.enabled`). None set: the operator keeps nothing for it.
 */
import { Option, type Command } from 'commander';
import { DNS_SUBDOMAIN_PATTERN } from '../api/schema/kube.js';
import { SUBRESOURCE_GROUP, SUBRESOURCE_VERSION } from '../api/contract/subresource.js';

/** What the operator keeps for the subresource server, all in the operator's namespace. */
export interface SubresourceSettings {
  /** The server's Service: its DNS names go into the serving certificate. */
  service: string;
  /** Secret of the serving certificate and its CA (the server mounts tls.crt and tls.key). */
  servingSecret: string;
  /** Secret of the server's launcher client certificate (tls.crt, tls.key, ca.crt). */
  clientSecret: string;
  /** The APIService whose caBundle the operator keeps equal to the serving CA. */
  apiService: string;
}

/** The APIService of the subresource API: its name is fixed by its group and version. */
export const SUBRESOURCE_API_SERVICE = `${SUBRESOURCE_VERSION}.${SUBRESOURCE_GROUP}`;

/** Each flag: commander's name for its value, the setting it fills, its variable, its help. */
const FLAGS: [flag: string, attr: string, key: keyof SubresourceSettings, env: string, help: string][] = [
  ['--subresources-service <name>', 'subresourcesService', 'service', 'KUBEVMM_SUBRESOURCES_SERVICE', "the subresource server's Service in the operator namespace; its DNS names go into the serving certificate"],
  ['--subresources-serving-secret <name>', 'subresourcesServingSecret', 'servingSecret', 'KUBEVMM_SUBRESOURCES_SERVING_SECRET', "Secret in the operator namespace for the subresource server's serving certificate and its CA"],
  ['--subresources-client-secret <name>', 'subresourcesClientSecret', 'clientSecret', 'KUBEVMM_SUBRESOURCES_CLIENT_SECRET', "Secret in the operator namespace for the subresource server's launcher client certificate"],
  ['--subresources-apiservice <name>', 'subresourcesApiservice', 'apiService', 'KUBEVMM_SUBRESOURCES_APISERVICE', `APIService whose caBundle the operator keeps current (default ${SUBRESOURCE_API_SERVICE})`],
];

/** Adds the subresource flags. */
export function withSubresourceOptions(cmd: Command): Command {
  for (const [flag, , , env, help] of FLAGS) cmd.addOption(new Option(flag, help).env(env));
  return cmd;
}

/** Invalid subresource flags. */
export class SubresourceSettingsError extends Error {
  override readonly name = 'SubresourceSettingsError';
}

const OBJECT_NAME = new RegExp(DNS_SUBDOMAIN_PATTERN);

/**
 * Reads and checks the subresource flags from parsed options: undefined when none of the
 * three names is set, an error naming the missing flags when only some are.
 */
export function subresourceSettings(opts: Record<string, unknown>): SubresourceSettings | undefined {
  const given = new Map<keyof SubresourceSettings, string>();
  for (const [flag, attr, key] of FLAGS) {
    const raw = opts[attr];
    const text = typeof raw === 'string' ? raw.trim() : '';
    if (!text) continue;
    if (!OBJECT_NAME.test(text) || text.length > 253) throw new SubresourceSettingsError(`${flag.split(' ')[0]}: "${text}" is not a Kubernetes object name (lower-case letters, digits, "-" and ".")`);
    given.set(key, text);
  }
  const required = FLAGS.filter(([, , key]) => key !== 'apiService');
  const missing = required.filter(([, , key]) => !given.has(key)).map(([flag]) => flag.split(' ')[0]);
  if (missing.length === required.length) return undefined;
  if (missing.length) throw new SubresourceSettingsError(`${missing.join(', ')} must be set too: the subresource server needs its Service, serving Secret and client Secret (or set none of them)`);
  return {
    service: given.get('service')!,
    servingSecret: given.get('servingSecret')!,
    clientSecret: given.get('clientSecret')!,
    apiService: given.get('apiService') ?? SUBRESOURCE_API_SERVICE,
  };
}
