/**
 * `node dist/subresources.mjs`: the subresource server (ADR 0011, docs/subresources.md). It
 * serves `subresources.kubevmm.io/v1alpha1` behind the API server's aggregator: HTTPS with
 * its serving certificate, the user's identity from the front proxy, a SubjectAccessReview
 * per request, and streams to launchers over mutual TLS with its launcher client certificate.
 * Both certificates are files from mounted Secrets and are read again when they change.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { Command } from 'commander';
import { pino } from 'pino';
import { countValue, portValue, secondsValue } from '../api/flag-values.js';
import { readPemFiles, servingPairPaths, watchPemFiles, watchServingPair, type PemFileContents } from '../api/pem-files.js';
import { ClusterClient } from './kube.js';
import { LauncherDialer, type LauncherTls } from './launcher-dial.js';
import { RequestHeaderSource } from './requestheader-source.js';
import { startSubresourceServer } from './server.js';
import { StreamAcceptor } from './stream.js';
import { ImporterRelay } from './upload-relay.js';
import { STREAM_LIMIT_DEFAULTS, StreamLimits } from './stream-limits.js';

/** The command line. */
export interface SubresourceFlags {
  port: number;
  bindAddress: string;
  tlsCert: string;
  tlsKey: string;
  launcherClientDir: string;
  kubeconfig?: string;
  certPollSeconds: number;
  maxStreams: number;
  maxStreamsPerUser: number;
}

/** Default locations of the mounted Secrets (the chart mounts them there). */
export const DEFAULTS = {
  port: 8443,
  tlsCert: '/var/run/kubevmm/serving/tls.crt',
  tlsKey: '/var/run/kubevmm/serving/tls.key',
  launcherClientDir: '/var/run/kubevmm/launcher-client',
} as const;

/** The API server's credentials: the kubeconfig given, or the pod's ServiceAccount. */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) {
    try {
      kc.loadFromFile(file);
    } catch (err) {
      throw new Error(`--kubeconfig ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return kc;
  }
  if (!process.env.KUBERNETES_SERVICE_HOST) throw new Error('not in a cluster (no KUBERNETES_SERVICE_HOST): give --kubeconfig');
  kc.loadFromCluster();
  return kc;
}

function launcherTlsOf(files: PemFileContents<'cert' | 'key' | 'ca'>): LauncherTls {
  return { cert: files.cert, key: files.key, ca: files.ca };
}

async function run(flags: SubresourceFlags): Promise<void> {
  const log = pino({ base: { component: 'kubevmm-subresources' }, timestamp: pino.stdTimeFunctions.isoTime });
  const kc = loadKubeConfig(flags.kubeconfig);
  const cluster = new ClusterClient(kc);
  const pollMs = flags.certPollSeconds * 1000;

  const serving = servingPairPaths(flags.tlsCert, flags.tlsKey);
  const servingFiles = await readPemFiles(serving);

  // The launcher client certificate may appear after the start (the operator writes its
  // Secret): streams answer 503 until it is there.
  const dir = flags.launcherClientDir;
  const client = { paths: { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), ca: join(dir, 'ca.crt') }, pair: { cert: 'cert', key: 'key' } as const, what: '--launcher-client-dir' };
  let launcherTls: LauncherTls | undefined;
  const clientFiles = await readPemFiles(client).catch((err: unknown) => {
    log.warn({ err: String(err) }, 'launcher client certificate not loaded yet; streams and metrics answer 503 until it is');
    return undefined;
  });
  if (clientFiles) launcherTls = launcherTlsOf(clientFiles);

  const requestHeader = new RequestHeaderSource({ read: () => cluster.authenticationData(), log });
  const launcher = new LauncherDialer({ tls: () => launcherTls });
  const server = await startSubresourceServer({
    port: flags.port,
    host: flags.bindAddress,
    tls: servingFiles,
    deps: {
      requestHeader: () => requestHeader.current(),
      cluster,
      launcher,
      importer: new ImporterRelay({ tls: () => launcherTls }),
      acceptor: new StreamAcceptor(),
      limits: new StreamLimits({ maxStreams: flags.maxStreams, maxStreamsPerUser: flags.maxStreamsPerUser }),
      log,
      notReady: () => [requestHeader.notReady()].filter((p): p is string => p !== undefined),
    },
  });
  const stopServing = watchServingPair({ files: serving, current: servingFiles, pollMs, setTls: (next) => server.setTls(next), log });
  const stopClient = watchPemFiles({
    ...client,
    current: clientFiles,
    pollMs,
    onChange: (next) => {
      launcherTls = launcherTlsOf(next);
      log.info({ dir }, 'launcher client certificate loaded');
    },
    onError: (err) => log.warn({ err: String(err) }, 'launcher client certificate files cannot be used (yet); keeping the previous one'),
  });
  log.info({ url: server.url, launcherClientDir: dir }, 'serving subresources.kubevmm.io/v1alpha1');
  await requestHeader.start();

  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping: open streams are closed');
    requestHeader.stop();
    stopServing();
    stopClient();
    launcher.close();
    void server.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** Parses the command line and serves until stopped. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('kubevmm-subresources')
    .description('serve virtualmachines/console, /vnc, /portforward, /metrics and virtualmachineimages/upload (subresources.kubevmm.io) behind the API server aggregator')
    .option('--port <n>', 'HTTPS port (0: any free port)', portValue, DEFAULTS.port)
    .option('--bind-address <ip>', 'address to listen on', '0.0.0.0')
    .option('--tls-cert <file>', 'serving certificate (PEM), reloaded when it changes', DEFAULTS.tlsCert)
    .option('--tls-key <file>', 'its private key (PEM)', DEFAULTS.tlsKey)
    .option('--launcher-client-dir <dir>', 'tls.crt, tls.key (client certificate from the launcher CA) and ca.crt (the launcher CA), reloaded when they change', DEFAULTS.launcherClientDir)
    .option('--kubeconfig <file>', "credentials for the API server (default: the pod's ServiceAccount)")
    .option('--cert-poll-seconds <n>', 'how often the certificate files are read again besides watching them', secondsValue, 60)
    .option('--max-streams <n>', 'streams (console, vnc, portforward) this replica keeps open at once; more are answered 503', countValue, STREAM_LIMIT_DEFAULTS.maxStreams)
    .option('--max-streams-per-user <n>', 'streams one user may keep open through this replica; more are answered 503', countValue, STREAM_LIMIT_DEFAULTS.maxStreamsPerUser)
    .action(async (opts: SubresourceFlags) => run(opts));
  await program.parseAsync([...argv]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv).catch((err: unknown) => {
    console.error(`kubevmm-subresources: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
