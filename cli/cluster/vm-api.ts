/**
 * The cluster verbs' calls to the API server, and nothing else: read a VirtualMachine, patch
 * it (merge or JSON patch, with the content type each needs), server-side apply one, and watch
 * it. Every failure becomes a {@link ClusterError} whose message names the fix. Only the
 * runners load this module: it pulls in the Kubernetes client.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import { API_VERSION } from '../../api/schema/common.js';
import { ClusterError, explainFailure, httpStatusOf, type FailedCall } from './api-errors.js';
import type { ClusterContext } from './context.js';
import type { VmPatch, VmView } from '../../api/vm-edits.js';
import type { VmFeed, WatchHandlers } from './wait.js';

const GROUP = 'kubevmm.io';
const VERSION = API_VERSION.split('/')[1]!;
const PLURAL = 'virtualmachines';

/** The field manager of the CLI's writes (`kubectl get vm -o yaml --show-managed-fields` shows it). */
export const FIELD_MANAGER = 'kubevmm-cli';

/** A VM as the verbs read it: the fields patches.ts needs, and what the wait needs on top. */
export interface VmObject extends VmView {
  metadata: VmView['metadata'] & { namespace?: string; generation?: number };
  status?: NonNullable<VmView['status']> & { observedGeneration?: number };
}

/** The watch ends by itself after this long; the wait then reads the VM again and watches anew. */
const WATCH_SECONDS = 60;

/**
 * A watch that broke without an HTTP answer (a reset, a stream cut short) is worth another
 * read and watch; one the server refused (403) is not.
 */
function watchFailure(err: unknown, call: FailedCall): ClusterError {
  const explained = explainFailure(err, call);
  return httpStatusOf(err) === 0 && !explained.transient ? new ClusterError(explained.message, true) : explained;
}

/** One VirtualMachine, as the calling user may see and change it. */
export class VmClient implements VmFeed {
  private readonly api: CustomObjectsApi;
  private readonly where: { group: string; version: string; plural: string; namespace: string; name: string };

  constructor(
    private readonly ctx: ClusterContext,
    readonly name: string,
  ) {
    this.api = ctx.kubeconfig.makeApiClient(CustomObjectsApi);
    this.where = { group: GROUP, version: VERSION, plural: PLURAL, namespace: ctx.namespace, name };
  }

  private call(verb: FailedCall['verb']): FailedCall {
    return { verb, name: this.name, namespace: this.ctx.namespace, server: this.ctx.server, source: this.ctx.source, contextName: this.ctx.contextName };
  }

  private async guard<T>(verb: FailedCall['verb'], fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw explainFailure(err, this.call(verb));
    }
  }

  /** The VM now. */
  get(): Promise<VmObject> {
    return this.guard('get', async () => (await this.api.getNamespacedCustomObject(this.where)) as VmObject);
  }

  /** Sends `patch` with its content type; resolves with the VM as changed. */
  patch(patch: VmPatch): Promise<VmObject> {
    const type = patch.type === 'merge' ? PatchStrategy.MergePatch : PatchStrategy.JsonPatch;
    return this.guard('patch', async () => (await this.api.patchNamespacedCustomObject({ ...this.where, body: patch.body, fieldManager: FIELD_MANAGER }, setHeaderOptions('Content-Type', type))) as VmObject);
  }

  /**
   * Server-side applies `manifest` (this VM) as {@link FIELD_MANAGER}: `created` when it did
   * not exist (HTTP 201), `configured` when it did.
   */
  apply(manifest: object): Promise<'created' | 'configured'> {
    return this.guard('apply', async () => {
      const info = await this.api.patchNamespacedCustomObjectWithHttpInfo({ ...this.where, body: manifest, fieldManager: FIELD_MANAGER }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply));
      return info.httpStatusCode === 201 ? 'created' : 'configured';
    });
  }

  /** Watches this VM from `resourceVersion` (a watch, not polling); resolves with a function that ends it. */
  async watch(resourceVersion: string, handlers: WatchHandlers): Promise<() => void> {
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(this.ctx.namespace)}/${PLURAL}`;
    const query = { fieldSelector: `metadata.name=${this.name}`, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS };
    const controller = await new Watch(this.ctx.kubeconfig).watch(
      path,
      query,
      (type, object) => handlers.event(type, object),
      (err: unknown) => handlers.end(err ? watchFailure(err, this.call('watch')) : undefined),
    );
    return () => controller.abort();
  }
}
