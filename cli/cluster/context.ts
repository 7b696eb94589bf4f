/**
 * Where a cluster verb talks to: the kubeconfig kubectl would use (`--kubeconfig`, else
 * `$KUBECONFIG`, else ~/.kube/config), its `--context` (else its current one) and the
 * namespace (`-n`, else the context's, else `default`). Only the cluster verbs load this
 * module: it pulls in the Kubernetes client, which offline verbs never pay for.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterFlags } from './args.js';
import { applyTokenFiles, kubeconfigFiles } from './token-file.js';

/** A loaded kubeconfig, narrowed to one context and namespace. */
export interface ClusterContext {
  kubeconfig: KubeConfig;
  namespace: string;
  /** The API server's URL, without a trailing slash. */
  server: string;
  /** Where the kubeconfig came from (a file, $KUBECONFIG's files, or in-cluster), for messages. */
  source: string;
  /** The context in use. */
  contextName: string;
}

/** The service account token a pod gets: the client falls back to it inside a cluster. */
const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Where kubectl would read the kubeconfig from, as client-node's loadFromDefault does; undefined
 * when there is none, where the client would quietly talk to http://localhost:8080.
 */
export function kubeconfigSource(flags: ClusterFlags, env: NodeJS.ProcessEnv = process.env, exists: (file: string) => boolean = existsSync): string | undefined {
  if (flags.kubeconfig) return flags.kubeconfig;
  const files = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (files.length) return files.join(delimiter);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (exists(home)) return home;
  return exists(IN_CLUSTER_TOKEN) ? 'in-cluster service account' : undefined;
}

/** The kubeconfig cannot be used as asked; the message names the fix (exit 1). */
export class ContextError extends Error {
  override readonly name = 'ContextError';
}

/** An error's message; not `instanceof Error`: fs errors may come from another realm (jest's VM modules). */
function messageOf(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}

/** Loads the kubeconfig for `flags`, as kubectl would. */
export function loadContext(flags: ClusterFlags): ClusterContext {
  const source = kubeconfigSource(flags);
  if (!source) throw new ContextError('no kubeconfig: give --kubeconfig FILE, set KUBECONFIG, or write ~/.kube/config (kubectl config view shows what kubectl uses)');
  const kubeconfig = new KubeConfig();
  try {
    if (flags.kubeconfig) kubeconfig.loadFromFile(flags.kubeconfig);
    else kubeconfig.loadFromDefault();
  } catch (err) {
    throw new ContextError(`cannot read the kubeconfig ${source}: ${messageOf(err)}`);
  }
  if (flags.context) {
    if (!kubeconfig.getContextObject(flags.context)) {
      throw new ContextError(`the kubeconfig ${source} has no context "${flags.context}"; it has ${kubeconfig.getContexts().map((c) => c.name).join(', ') || 'none'}`);
    }
    kubeconfig.setCurrentContext(flags.context);
  }
  try {
    applyTokenFiles(kubeconfig, kubeconfigFiles(flags)); // the context's user only, once the context is final
  } catch (err) {
    throw new ContextError(`cannot read the kubeconfig ${source}: ${messageOf(err)}`);
  }
  const cluster = kubeconfig.getCurrentCluster();
  if (!cluster) throw new ContextError(`the kubeconfig ${source} names no cluster for its current context: give --context or --kubeconfig`);
  const contextName = kubeconfig.getCurrentContext();
  const namespace = flags.namespace ?? kubeconfig.getContextObject(contextName)?.namespace ?? 'default';
  return { kubeconfig, namespace, server: cluster.server.replace(/\/+$/, ''), source, contextName };
}
