/**
 * Copies a self-managed CA bundle to where the API server reads it: every webhook of the
 * ValidatingWebhookConfiguration, or the APIService of the subresource server. The chart
 * renders both objects without a caBundle, so `helm upgrade` leaves the field to the
 * operator; one that removes it anyway (a `--force` replace) is repaired at the next check.
 */
import type { ApiServiceApi, JsonPatchOp, WebhookConfigurationApi } from './certificate-api.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** The APIService cannot take a caBundle as it is; the message says what to change. */
export class ApiServiceError extends Error {
  override readonly name = 'ApiServiceError';
}

/**
 * Sets `caBundle` on every webhook of the configuration whose bundle differs. One JSON patch
 * that also tests each webhook's name, so a concurrent reorder fails instead of patching the
 * wrong entry. Returns how many webhooks were patched, or undefined when the configuration
 * does not exist.
 */
export async function syncWebhookCaBundle(api: WebhookConfigurationApi, configuration: string, caBundle: string): Promise<number | undefined> {
  const config = await api.getWebhookConfiguration(configuration);
  if (!config) return undefined;
  const want = b64(caBundle);
  const ops: JsonPatchOp[] = [];
  (config.webhooks ?? []).forEach((hook, i) => {
    if (hook.clientConfig?.caBundle === want) return;
    ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: hook.name });
    ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: want });
  });
  if (ops.length) await api.patchWebhookConfiguration(configuration, ops);
  return ops.length / 2;
}

/**
 * Sets the APIService's `spec.caBundle` when it differs. Returns 1 when patched, 0 when it was
 * current, undefined when the APIService does not exist. The patch tests the Service it
 * points at, so an APIService repointed meanwhile (another installation) is left alone.
 */
export async function syncApiServiceCaBundle(api: ApiServiceApi, name: string, caBundle: string, service: { namespace: string; name: string }): Promise<0 | 1 | undefined> {
  const apiService = await api.getApiService(name);
  if (!apiService) return undefined;
  const target = apiService.spec?.service;
  if (target?.namespace !== service.namespace || target.name !== service.name) {
    const actual = target ? `${target.namespace ?? ''}/${target.name ?? ''}` : 'no Service (a local API)';
    throw new ApiServiceError(`APIService ${name} points at ${actual}, not ${service.namespace}/${service.name}; another installation owns it, or it was edited: fix spec.service, or turn subresources off in this release`);
  }
  if (apiService.spec?.insecureSkipTLSVerify) {
    throw new ApiServiceError(`APIService ${name} has spec.insecureSkipTLSVerify: true, which the API server refuses together with a caBundle; remove it so the operator can set the CA`);
  }
  const want = b64(caBundle);
  if (apiService.spec?.caBundle === want) return 0;
  await api.patchApiService(name, [
    { op: 'test', path: '/spec/service/name', value: service.name },
    { op: 'test', path: '/spec/service/namespace', value: service.namespace },
    { op: 'add', path: '/spec/caBundle', value: want },
  ]);
  return 1;
}
