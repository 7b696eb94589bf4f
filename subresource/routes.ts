/**
 * What each path of the server is (pure). The probes are open; everything else needs the
 * front proxy's certificate first. Besides the four subresources the server answers what the
 * API server's aggregator asks of every aggregated server: discovery (`/apis`, the group, and
 * the group version, whose APIResourceList the availability check reads and `kubectl
 * api-resources` lists) and OpenAPI (`/openapi/v2`, `/openapi/v3`), where a 404 tells the
 * aggregator that this API publishes no schema (streams and one metrics object; nothing for
 * `kubectl explain`), which it skips without an error.
 */
import { imageSubresource, SUBRESOURCE_GROUP, SUBRESOURCE_VERSION, vmSubresource } from '../api/contract/subresource.js';

const GROUP_VERSION = `${SUBRESOURCE_GROUP}/${SUBRESOURCE_VERSION}`;

/** What a request is. */
export type Route =
  | { kind: 'probe'; probe: 'healthz' | 'readyz' }
  | { kind: 'document'; body: unknown }
  | { kind: 'subresource' }
  | { kind: 'refused'; code: 404 | 405; message: string };

/** The kind each subresource answers with (discovery needs one, or clients drop the entry). */
const KIND_OF = { console: 'VirtualMachineStream', vnc: 'VirtualMachineStream', portforward: 'VirtualMachineStream', metrics: 'VirtualMachineMetrics' } as const;

/**
 * The group version's resources: only the subresources; the VM's each with `get` (a WebSocket
 * opens with GET), the image's upload with `get` (HEAD) and `update` (PUT).
 */
export function apiResourceList(): unknown {
  const entry = (name: string, kind: string, verbs: string[]) => ({ name, singularName: '', namespaced: true, group: SUBRESOURCE_GROUP, version: SUBRESOURCE_VERSION, kind, verbs });
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: GROUP_VERSION,
    resources: [
      ...vmSubresource.options.map((sub) => entry(`virtualmachines/${sub}`, KIND_OF[sub], ['get'])),
      ...imageSubresource.options.map((sub) => entry(`virtualmachineimages/${sub}`, 'VirtualMachineImageUpload', ['get', 'update'])),
    ],
  };
}

function apiGroup(): Record<string, unknown> {
  const version = { groupVersion: GROUP_VERSION, version: SUBRESOURCE_VERSION };
  return { kind: 'APIGroup', apiVersion: 'v1', name: SUBRESOURCE_GROUP, versions: [version], preferredVersion: version };
}

/** Discovery documents by path. */
const DOCUMENTS: Readonly<Record<string, () => unknown>> = {
  '/apis': () => ({ kind: 'APIGroupList', apiVersion: 'v1', groups: [apiGroup()] }),
  [`/apis/${SUBRESOURCE_GROUP}`]: apiGroup,
  [`/apis/${GROUP_VERSION}`]: apiResourceList,
};

const PROBES: Readonly<Record<string, 'healthz' | 'readyz'>> = { '/healthz': 'healthz', '/livez': 'healthz', '/readyz': 'readyz' };

const SUBRESOURCE_PREFIX = `/apis/${GROUP_VERSION}/`;

/** The route of `method` on `path` (the path without its query). */
export function routeOf(method: string, path: string): Route {
  const probe = PROBES[path];
  if (probe) return method === 'GET' || method === 'HEAD' ? { kind: 'probe', probe } : { kind: 'refused', code: 405, message: `${method} ${path}: probes answer GET` };
  const document = DOCUMENTS[path.replace(/\/+$/, '') || '/'];
  if (document) return method === 'GET' ? { kind: 'document', body: document() } : { kind: 'refused', code: 405, message: `${method} ${path}: discovery answers GET` };
  if (path.startsWith(SUBRESOURCE_PREFIX)) return { kind: 'subresource' };
  if (path === '/openapi/v2' || path.startsWith('/openapi/v3')) {
    return { kind: 'refused', code: 404, message: `${GROUP_VERSION} publishes no OpenAPI document: its subresources are WebSocket streams and a VirtualMachineMetrics object (docs/subresources.md)` };
  }
  return { kind: 'refused', code: 404, message: `${path} is not served here: this server serves ${SUBRESOURCE_PREFIX}namespaces/NAMESPACE/virtualmachines/NAME/{${vmSubresource.options.join(',')}} and ${SUBRESOURCE_PREFIX}namespaces/NAMESPACE/virtualmachineimages/NAME/upload` };
}
