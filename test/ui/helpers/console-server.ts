// The web console for browser tests: the app bundled from this tree into a temporary directory
// and ui/server relaying to the local control plane's API server, in cluster mode as the chart
// serves it (the browser's own bearer token, no credentials of its own) or in local mode as
// `kubevmm ui` serves it (the session token of the printed address, the kubeconfig's rights).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { bundleUi } from '../../../scripts/bundle-ui.js';
import { REPO_ROOT } from '../../../scripts/bundle.js';
import { startUiServer, type UiServer } from '../../../ui/server/server.js';
import { caUpstream } from '../../../ui/server/upstream.js';

/** A running console and where its bundle lives. */
export interface ConsoleServer {
  server: UiServer;
  url: string;
  close(): Promise<void>;
}

/** The CA of the kubeconfig's cluster, PEM. */
async function clusterCa(kc: KubeConfig): Promise<string> {
  const cluster = kc.getCurrentCluster();
  if (cluster?.caData) return Buffer.from(cluster.caData, 'base64').toString('utf8');
  if (cluster?.caFile) return readFile(cluster.caFile, 'utf8');
  throw new Error('the kubeconfig names no CA for its cluster');
}

/** Bundles the app and serves it in cluster mode (or `local`, with `kc`'s credentials), opening on `namespace`. */
export async function startConsole(kc: KubeConfig, namespace: string, mode: 'cluster' | 'local' = 'cluster'): Promise<ConsoleServer> {
  const dir = await mkdtemp(join(tmpdir(), 'kubevmm-ui-'));
  await bundleUi({ outDir: dir, root: REPO_ROOT });
  let server: UiServer;
  if (mode === 'local') {
    server = await startUiServer({ mode, staticDir: dir, kubeConfig: kc, namespace, user: 'admin', version: 'test' });
  } else {
    const ca = await clusterCa(kc);
    server = await startUiServer({ mode, staticDir: dir, upstream: caUpstream(new URL(kc.getCurrentCluster()!.server), () => ca), namespace, version: 'test' });
  }
  return {
    server,
    url: server.url,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
