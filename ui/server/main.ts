/**
 * `node /app/ui-server.mjs`: the web console in the cluster (the chart's `<fullname>-ui`
 * Deployment; docs/ui.md). Cluster mode: HTTPS with the serving certificate the operator keeps
 * in a Secret (reloaded when the kubelet updates it), the app from /app/ui, and a relay to the
 * API server at KUBERNETES_SERVICE_HOST/PORT trusted with the cluster's CA (the
 * `kube-root-ca.crt` ConfigMap). It holds no credential: the pod mounts no token, and every API
 * call carries only the signed-in user's.
 */
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { readPemFiles, watchPemFiles } from '../../api/pem-files.js';
import { startUiServer } from './server.js';
import { caUpstream, inClusterUrl } from './upstream.js';

/** The command line. */
export interface UiServerFlags {
  port: number;
  bindAddress: string;
  tlsCert: string;
  tlsKey: string;
  caFile: string;
  appDir: string;
  namespace: string;
  oidcIssuerUrl?: string;
  oidcClientId?: string;
  oidcScopes: string[];
  certPollSeconds: number;
}

/** Where the chart mounts things. */
export const DEFAULTS = {
  port: 8443,
  tlsCert: '/var/run/kubevmm/serving/tls.crt',
  tlsKey: '/var/run/kubevmm/serving/tls.key',
  caFile: '/var/run/kubevmm/kube-root-ca/ca.crt',
  appDir: '/app/ui',
} as const;

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is an integer 0-65535 (0: any free port)');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a positive number of seconds');
  return n;
}

/** The OIDC settings the app signs in with, when both the issuer and the client are given. */
export function oidcOf(flags: Pick<UiServerFlags, 'oidcIssuerUrl' | 'oidcClientId' | 'oidcScopes'>): { issuerUrl: string; clientId: string; scopes: string[] } | undefined {
  if (!flags.oidcIssuerUrl && !flags.oidcClientId) return undefined;
  if (!flags.oidcIssuerUrl || !flags.oidcClientId) throw new Error('--oidc-issuer-url and --oidc-client-id go together: give both (or neither)');
  return { issuerUrl: flags.oidcIssuerUrl, clientId: flags.oidcClientId, scopes: flags.oidcScopes };
}

async function run(flags: UiServerFlags): Promise<void> {
  const log = pino({ base: { component: 'kubevmm-ui' }, timestamp: pino.stdTimeFunctions.isoTime });
  const pollMs = flags.certPollSeconds * 1000;
  const serving = { paths: { cert: flags.tlsCert, key: flags.tlsKey }, pair: { cert: 'cert', key: 'key' } as const, what: '--tls-cert/--tls-key' };
  const servingFiles = await readPemFiles(serving);
  const trust = { paths: { ca: flags.caFile }, what: '--ca-file' };
  let ca = (await readPemFiles(trust)).ca;
  const oidc = oidcOf(flags);
  const server = await startUiServer({
    mode: 'cluster',
    staticDir: flags.appDir,
    upstream: caUpstream(inClusterUrl(process.env), () => ca),
    namespace: flags.namespace,
    version: process.env.KUBEVMM_VERSION || 'unknown',
    ...(oidc ? { oidc } : {}),
    port: flags.port,
    address: flags.bindAddress,
    tls: servingFiles,
    log,
  });
  const stops = [
    watchPemFiles({
      ...serving,
      current: servingFiles,
      pollMs,
      onChange: (next) => {
        server.setTls(next);
        log.info({ file: flags.tlsCert }, 'serving certificate reloaded');
      },
      onError: (err) => log.warn({ err: String(err) }, 'serving certificate files changed but cannot be used yet; serving the previous one'),
    }),
    watchPemFiles({
      ...trust,
      current: { ca },
      pollMs,
      onChange: (next) => {
        ca = next.ca;
        log.info({ file: flags.caFile }, "the cluster's CA reloaded");
      },
      onError: (err) => log.warn({ err: String(err) }, "the cluster's CA file cannot be read; keeping the previous one"),
    }),
  ];
  log.info({ url: server.origin, appDir: flags.appDir }, 'serving the web console');
  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping');
    stops.forEach((stop) => stop());
    void server.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** Parses the command line and serves until stopped. */
export async function main(argv: readonly string[]): Promise<void> {
  const collect = (value: string, previous: string[]) => [...previous, value];
  const program = new Command('kubevmm-ui')
    .description('serve the kubevmm web console in the cluster: the app, and a relay to the API server that carries only the signed-in user’s credentials')
    .option('--port <n>', 'HTTPS port', port, DEFAULTS.port)
    .option('--bind-address <ip>', 'address to listen on', '0.0.0.0')
    .option('--tls-cert <file>', 'serving certificate (PEM), reloaded when it changes', DEFAULTS.tlsCert)
    .option('--tls-key <file>', 'its key (PEM)', DEFAULTS.tlsKey)
    .option('--ca-file <file>', "the cluster's CA (the kube-root-ca.crt ConfigMap's ca.crt), to trust the API server", DEFAULTS.caFile)
    .option('--app-dir <dir>', "the app's files", DEFAULTS.appDir)
    .option('--namespace <ns>', 'namespace the app opens on', 'default')
    .option('--oidc-issuer-url <url>', "the identity provider the API server trusts (the app signs in with it)")
    .option('--oidc-client-id <id>', 'the OIDC client of the web console')
    .option('--oidc-scope <scope>', 'an extra OIDC scope beyond openid (repeatable)', collect, [])
    .option('--cert-poll-seconds <n>', 'look at the certificate files this often besides watching them', seconds, 60)
    .action(async (opts: UiServerFlags & { oidcScope: string[] }) => run({ ...opts, oidcScopes: opts.oidcScope }));
  await program.parseAsync([...argv]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv).catch((err: unknown) => {
    console.error(`kubevmm-ui: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
