/**
 * The image verbs' calls to the API server: read a VirtualMachineImage and server-side apply
 * one, as the kubeconfig's user. A failure becomes a ClusterError whose message says what was
 * asked and what the server said. Only the image runners load this module.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { API_VERSION } from '../../api/schema/common.js';
import { ClusterError, httpStatusOf, statusBodyOf } from './api-errors.js';
import type { ClusterContext } from './context.js';
import { printable } from './progress.js';
import { FIELD_MANAGER } from './vm-api.js';

/** An image as the verbs read it. */
export interface ImageObject {
  metadata: { name: string; uid?: string };
  spec?: { source?: Record<string, unknown> };
  status?: { phase?: string; progress?: string; format?: string; virtualSize?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** One VirtualMachineImage in the context's namespace. */
export class ImageClient {
  private readonly api: CustomObjectsApi;
  private readonly where: { group: string; version: string; plural: string; namespace: string; name: string };

  constructor(
    private readonly ctx: ClusterContext,
    readonly name: string,
  ) {
    this.api = ctx.kubeconfig.makeApiClient(CustomObjectsApi);
    this.where = { group: 'kubevmm.io', version: API_VERSION.split('/')[1]!, plural: 'virtualmachineimages', namespace: ctx.namespace, name };
  }

  private failure(verb: string, err: unknown): ClusterError {
    const code = httpStatusOf(err);
    const said = printable(statusBodyOf(err)?.message ?? (err instanceof Error ? err.message : String(err)));
    const what = `${verb} virtualmachineimage "${this.name}" in namespace ${this.ctx.namespace}`;
    if (code === 404) return new ClusterError(`${what}: the API server has no VirtualMachineImage kind (${said}): install or upgrade kubevmm's CRDs`, false, 404);
    if (code === 403) return new ClusterError(`${what} is forbidden (${said}): ask for the kubevmm-vm-user role in namespace ${this.ctx.namespace}`, false, 403);
    return new ClusterError(`${what} failed${code ? ` (HTTP ${code})` : ''}: ${said}`, code === 0 || code === 429 || code >= 500, code);
  }

  /** The image, or undefined when there is none of that name. */
  async get(): Promise<ImageObject | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject(this.where)) as ImageObject;
    } catch (err) {
      if (httpStatusOf(err) === 404 && statusBodyOf(err)?.details?.name === this.name) return undefined;
      throw this.failure('get', err);
    }
  }

  /** Server-side applies `manifest`: `created` or `configured`. */
  async apply(manifest: object): Promise<'created' | 'configured'> {
    try {
      const info = await this.api.patchNamespacedCustomObjectWithHttpInfo({ ...this.where, body: manifest, fieldManager: FIELD_MANAGER }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply));
      return info.httpStatusCode === 201 ? 'created' : 'configured';
    } catch (err) {
      throw this.failure('apply', err);
    }
  }
}
