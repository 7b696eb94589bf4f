/**
 * A deadline on every API call the operator makes. client-node's fetch has none by default,
 * so a connection that stops answering would hold a reconcile (and its work-queue slot)
 * forever; with this, it fails with an abort error and the work queue backs off and retries.
 * Watches are long-lived on purpose and keep the informer's own watchdog instead.
 */
import { createConfiguration, ServerConfiguration, type KubeConfig, type Middleware, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

/** Default deadline of one API call: generous for a large list, short enough to unwedge a worker. */
export const API_TIMEOUT_MS = 30_000;

/** Middleware that aborts the request after `timeoutMs`. */
export function timeoutMiddleware(timeoutMs: number): Middleware {
  return {
    pre: async (context: RequestContext) => {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return context;
    },
    post: async (response: ResponseContext) => response,
  };
}

/** `kc.makeApiClient(type)` with a deadline on each request. */
export function makeTimedClient<T>(kc: KubeConfig, type: new (config: ReturnType<typeof createConfiguration>) => T, timeoutMs = API_TIMEOUT_MS): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return new type(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [timeoutMiddleware(timeoutMs)],
    }),
  );
}
