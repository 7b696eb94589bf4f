/**
 * The API server the relay talks to, and what each request to it carries. In `cluster` mode
 * that is only the cluster's CA (the server holds no credential of its own); in `local` mode
 * the kubeconfig's TLS material and credentials, applied per request by the Kubernetes
 * client's KubeConfig, so exec plugins and expiring tokens are refreshed during long sessions.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions, type RequestOptions } from 'node:https';

/** Where the API server is and how a request to it is prepared. */
export interface Upstream {
  /** The API server's base URL (a path prefix, as some proxies use, is kept). */
  url: URL;
  /** TLS material, agent and credential headers for one request. */
  prepare(): Promise<RequestOptions>;
}

/**
 * What the relay needs of @kubernetes/client-node's KubeConfig (structural, so ui/server's
 * cluster-mode bundle does not carry the client).
 */
export interface KubeConfigLike {
  getCurrentCluster(): { server: string; proxyUrl?: string } | null;
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

/** The kubeconfig cannot be used; the message names the fix. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
}

function agentFor(url: URL, options: AgentOptions): HttpAgent {
  return url.protocol === 'http:' ? new HttpAgent({ keepAlive: true }) : new HttpsAgent({ keepAlive: true, ...options });
}

/** The TLS fields of prepared options that decide which connections may be shared. */
const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized'] as const;

function tlsKey(options: RequestOptions): string {
  return JSON.stringify(TLS_FIELDS.map((f) => String((options as Record<string, unknown>)[f] ?? '')));
}

/**
 * The kubeconfig's current cluster, with its user's credentials applied to every request.
 * KubeConfig makes a new agent per call (no connection reuse); ours keeps one per set of TLS
 * material and makes a new one when that changes (a renewed client certificate). A cluster
 * behind `proxy-url` keeps the client's proxy agent.
 */
export function kubeConfigUpstream(kc: KubeConfigLike): Upstream {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new UpstreamError('the kubeconfig names no cluster for its current context: give --context or --kubeconfig');
  const url = new URL(cluster.server);
  const proxied = Boolean(cluster.proxyUrl);
  let shared: { key: string; agent: HttpAgent } | undefined;
  return {
    url,
    async prepare() {
      const options: RequestOptions = {};
      try {
        await kc.applyToHTTPSOptions(options);
      } catch (err) {
        throw new UpstreamError(`cannot use the kubeconfig's credentials: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (proxied) return options;
      const key = tlsKey(options);
      if (shared?.key !== key) {
        shared?.agent.destroy();
        shared = { key, agent: agentFor(url, options as AgentOptions) };
      }
      return { ...options, agent: shared.agent };
    },
  };
}

/** Where the in-cluster API server is: the Service the kubelet names in every pod's environment. */
export function inClusterUrl(env: NodeJS.ProcessEnv): URL {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new UpstreamError('not in a cluster (no KUBERNETES_SERVICE_HOST): run `kubevmm ui` on a workstation instead');
  return new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
}

/**
 * The in-cluster API server, trusted with the cluster's CA (the `kube-root-ca.crt` ConfigMap).
 * No credential: every request carries only what the browser sent.
 */
export function caUpstream(url: URL, ca: () => string): Upstream {
  let shared: { ca: string; agent: HttpAgent } | undefined;
  return {
    url,
    prepare() {
      const current = ca();
      if (shared?.ca !== current) {
        shared?.agent.destroy();
        shared = { ca: current, agent: agentFor(url, { ca: current }) };
      }
      return Promise.resolve({ agent: shared.agent });
    },
  };
}
