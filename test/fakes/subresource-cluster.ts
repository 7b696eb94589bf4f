/**
 * The API server as the subresource server's request path sees it (SubresourceCluster), for
 * unit tests: RBAC is a set of `user verb subresource namespace/name` grants, VMs and launcher
 * pods are maps, and every call is recorded in order, so a test can show what was (not) read.
 */
import type { ImageFacts, PodFacts, SubresourceCluster, VmFacts } from '../../subresource/kube.js';
import { KubeCallError } from '../../subresource/kube.js';

type Json = Record<string, any>;

/** A fake cluster; change its fields between requests. */
export class FakeSubresourceCluster implements SubresourceCluster {
  /** Calls in order: `review user`, `vm ns/name`, `pod ns/name`, `configmap`. */
  calls: string[] = [];
  /** The SubjectAccessReview bodies received. */
  reviews: Json[] = [];
  /** Grants, `user get console ns/name`. */
  grants = new Set<string>();
  vms = new Map<string, VmFacts>();
  images = new Map<string, ImageFacts>();
  pods = new Map<string, PodFacts>();
  /** When set, that call fails with it. */
  failures: { review?: Error; vm?: Error; pod?: Error; configMap?: Error } = {};
  configMapData: Record<string, string> = {};

  async review(body: Json): Promise<unknown> {
    const spec = body.spec as Json;
    this.calls.push(`review ${spec.user}`);
    this.reviews.push(body);
    if (this.failures.review) throw this.failures.review;
    const a = spec.resourceAttributes as Json;
    const allowed = this.grants.has(`${spec.user} ${a.verb} ${a.subresource} ${a.namespace}/${a.name}`);
    return { ...body, status: allowed ? { allowed: true } : { allowed: false, reason: 'no RBAC policy matched' } };
  }

  async virtualMachine(namespace: string, name: string): Promise<VmFacts | undefined> {
    this.calls.push(`vm ${namespace}/${name}`);
    if (this.failures.vm) throw this.failures.vm;
    return this.vms.get(`${namespace}/${name}`);
  }

  async launcherPod(namespace: string, vmName: string): Promise<PodFacts | undefined> {
    this.calls.push(`pod ${namespace}/${vmName}`);
    if (this.failures.pod) throw this.failures.pod;
    return this.pods.get(`${namespace}/${vmName}`);
  }

  async virtualMachineImage(namespace: string, name: string): Promise<ImageFacts | undefined> {
    this.calls.push(`image ${namespace}/${name}`);
    if (this.failures.vm) throw this.failures.vm;
    return this.images.get(`${namespace}/${name}`);
  }

  async pod(namespace: string, name: string): Promise<PodFacts | undefined> {
    this.calls.push(`pod ${namespace}/${name}`);
    if (this.failures.pod) throw this.failures.pod;
    return this.pods.get(`${namespace}/${name}`);
  }

  async authenticationData(): Promise<Record<string, string>> {
    this.calls.push('configmap');
    if (this.failures.configMap) throw this.failures.configMap;
    return this.configMapData;
  }
}

/** An API server error as ClusterClient reports it. */
export function apiError(code: number | undefined, message = 'boom'): KubeCallError {
  return new KubeCallError(message, code);
}

/** The ConfigMap data kube-apiserver writes for a front proxy with this CA. */
export function requestHeaderData(caPem: string, allowedNames = ['front-proxy-client']): Record<string, string> {
  return {
    'requestheader-client-ca-file': caPem,
    'requestheader-allowed-names': JSON.stringify(allowedNames),
    'requestheader-username-headers': '["X-Remote-User"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
  };
}
