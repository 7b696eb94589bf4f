/**
 * Where the app finds things: the relayed Kubernetes API (`UI_PATHS.api` + the API path) and
 * the app's own routes (the part after `#`, so the server only ever serves index.html at one
 * address and a reload keeps the page).
 */
import { UI_PATHS } from '../../../api/contract/ui.js';
import { SUBRESOURCE_GROUP, SUBRESOURCE_VERSION, type StreamSubresource } from '../../../api/contract/subresource.js';
import { API_VERSION } from '../../../api/schema/common.js';

const enc = encodeURIComponent;
/** The relative prefix of every API call: relative, so the app works under any path prefix. */
export const API_PREFIX = UI_PATHS.api.replace(/^\//, '');

/** The relayed path of a kubevmm.io collection or object in a namespace. */
export function kubevmmPath(resource: 'virtualmachines' | 'virtualmachineimages', namespace: string, name?: string): string {
  return `${API_PREFIX}/apis/${API_VERSION}/namespaces/${enc(namespace)}/${resource}${name ? `/${enc(name)}` : ''}`;
}

/** VirtualMachineClasses (cluster-scoped). */
export const classesPath = (): string => `${API_PREFIX}/apis/${API_VERSION}/virtualmachineclasses`;
/** Namespaces. */
export const namespacesPath = (): string => `${API_PREFIX}/api/v1/namespaces`;
/** PersistentVolumeClaims of a namespace. */
export const claimsPath = (namespace: string): string => `${API_PREFIX}/api/v1/namespaces/${enc(namespace)}/persistentvolumeclaims`;

/** core/v1 events about one VM (field selector on the involved object). */
export function vmEventsPath(namespace: string, name: string): string {
  const selector = `involvedObject.kind=VirtualMachine,involvedObject.name=${name}`;
  return `${API_PREFIX}/api/v1/namespaces/${enc(namespace)}/events?fieldSelector=${enc(selector)}`;
}

/** A subresource of subresources.kubevmm.io on one VM: metrics, console, vnc. */
export function vmSubresourcePath(namespace: string, name: string, subresource: StreamSubresource | 'metrics'): string {
  return `${API_PREFIX}/apis/${SUBRESOURCE_GROUP}/${SUBRESOURCE_VERSION}/namespaces/${enc(namespace)}/virtualmachines/${enc(name)}/${subresource}`;
}

/** The ws: or wss: address of a relative path, against the page's own address. */
export function webSocketUrl(path: string, base: string): string {
  const url = new URL(path, base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/** The tabs of a VM's page. */
export const VM_TABS = ['summary', 'performance', 'console', 'vnc'] as const;
export type VmTab = (typeof VM_TABS)[number];

/** A page of the app. */
export type Route =
  | { page: 'inventory'; namespace?: string }
  | { page: 'vm'; namespace: string; name: string; tab: VmTab }
  | { page: 'create'; namespace: string };

/** The route of a location hash such as `#/ns/default/vm/web/console`; anything unknown is the inventory. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== 'ns' || !parts[1]) return { page: 'inventory' };
  const namespace = parts[1];
  if (parts[2] === 'new') return { page: 'create', namespace };
  if (parts[2] === 'vm' && parts[3]) {
    const tab = (VM_TABS as readonly string[]).includes(parts[4] ?? '') ? (parts[4] as VmTab) : 'summary';
    return { page: 'vm', namespace, name: parts[3], tab };
  }
  return { page: 'inventory', namespace };
}

/** The hash of a route (inverse of {@link parseRoute}). */
export function routeHash(route: Route): string {
  if (route.page === 'create') return `#/ns/${enc(route.namespace)}/new`;
  if (route.page === 'vm') return `#/ns/${enc(route.namespace)}/vm/${enc(route.name)}/${route.tab}`;
  return route.namespace ? `#/ns/${enc(route.namespace)}` : '#/';
}
