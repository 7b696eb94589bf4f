/**
 * Where a cluster verb talks to: the kubeconfig kubectl would use (`--kubeconfig`, else
 * `$KUBECONFIG`, else ~/.kube/config), its `--context` (else its current one) and the
 * namespace (`-n`, else the context's, else `default`). Only the cluster verbs load this
 * module: it pulls in the Kubernetes client, which offline verbs never pay for.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterFlags } from './args.js';
import { applyTokenFiles, kubeconfigFiles } from './token-file.js';

/** A loaded kubeconfig, narrowed to one context and namespace. */
export interface ClusterContext {
  kubeconfig: KubeConfig;
  namespace: string;
  /** The API server's URL, without a trailing slash. */
  server: string;
}

/** The kubeconfig cannot be used as asked; the message names the fix (exit 1). */
export class ContextError extends Error {
  override readonly name = 'ContextError';
}

/** Loads the kubeconfig for `flags`, as kubectl would. */
export function loadContext(flags: ClusterFlags): ClusterContext {
  const kubeconfig = new KubeConfig();
  try {
    if (flags.kubeconfig) kubeconfig.loadFromFile(flags.kubeconfig);
    else kubeconfig.loadFromDefault();
    applyTokenFiles(kubeconfig, kubeconfigFiles(flags));
  } catch (err) {
    throw new ContextError(`cannot read the kubeconfig ${flags.kubeconfig ?? '(default)'}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (flags.context) {
    if (!kubeconfig.getContextObject(flags.context)) {
      throw new ContextError(`the kubeconfig has no context "${flags.context}"; it has ${kubeconfig.getContexts().map((c) => c.name).join(', ') || 'none'}`);
    }
    kubeconfig.setCurrentContext(flags.context);
  }
  const cluster = kubeconfig.getCurrentCluster();
  if (!cluster) throw new ContextError('the kubeconfig names no cluster for its current context: give --context or --kubeconfig');
  const namespace = flags.namespace ?? kubeconfig.getContextObject(kubeconfig.getCurrentContext())?.namespace ?? 'default';
  return { kubeconfig, namespace, server: cluster.server.replace(/\/+$/, '') };
}
