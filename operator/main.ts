/**
 * `npm run operator`: the kubevmm operator in the foreground against $KUBECONFIG.
 * Informers run in every replica (so a new leader starts warm); only the leader reconciles.
 */
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { CoreV1Api, CustomObjectsApi, KubeConfig, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { VM_LABEL } from '../api/layout.js';
import { CONTROL_CLIENTS } from '../api/contract/control.js';
import type { VirtualMachineClass } from '../api/schema/class.js';
import type { VirtualMachine } from '../api/schema/vm.js';
import { IMPORTER_PORT } from '../api/contract/importer.js';
import { isQuantity, parseQuantity } from '../api/quantity.js';
import { configFromOptions, withConfigOptions } from './config.js';
import type { ImageControllerDeps } from './image-controller.js';
import { imageInformers, runImageQueue } from './image-runtime.js';
import { reconcile, vmKey, type ControllerDeps } from './controller.js';
import { slimObject, slimPod } from './kube/cache-view.js';
import { ClusterApi } from './kube/client.js';
import { createInformer, type Informer } from './kube/informer.js';
import { useKeepAlive } from './kube/keep-alive.js';
import { loadLauncherAuthority } from './kube/launcher-ca.js';
import { makeTimedClient } from './kube/timeout.js';
import { LauncherClient } from './kube/launcher-client.js';
import { LauncherCredentials } from './kube/launcher-credentials.js';
import { LauncherNetworkPolicies } from './kube/network-policy.js';
import { LauncherReach } from './launcher-reach.js';
import { Expectations } from './expectations.js';
import { parseLauncherNetworkPolicy } from './render/network-policy.js';
import { ClientIdentity } from './pki/launcher.js';
import { runLeaderElection } from './kube/leader.js';
import { startHealthServer } from './health.js';
import { livenessProblems } from './liveness.js';
import { createMetrics, queueHooks, type OperatorMetrics } from './metrics.js';
import { WorkQueue, type HandlerResult, type Lane } from './queue.js';
import { launcherPodName } from './render/pod.js';
import { webhookSettings, withWebhookOptions } from './webhook/options.js';
import { CertificateKube } from './kube/certificate-api.js';
import { runSubresourceCredentials } from './subresource-credentials.js';
import { subresourceSettings, withSubresourceOptions } from './subresource-options.js';
import { runUiCredentials, uiSettings, withUiOptions } from './ui-credentials.js';
import { runWebhook } from './webhook/start.js';

/** Operator process settings beyond the shared operator config. */
interface RunFlags {
  workers: number;
  resyncSeconds: number;
  crashLoopBaseSeconds: number;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  leaderElect: boolean;
  healthPort: number;
  startingHoldSeconds: number;
  launcherCaSecret: string;
  launcherNetworkPolicy?: string;
  queueStallSeconds: number;
  defaultImageSize: string;
}

/** The queue handler: one reconcile, timed and counted. */
function timedReconcile(deps: ControllerDeps, metrics: OperatorMetrics) {
  return async (key: string): Promise<HandlerResult> => {
    const started = performance.now();
    try {
      const result = await reconcile(deps, key);
      metrics.observeReconcile(result.requeueAfterMs !== undefined ? 'requeue' : 'success', (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      metrics.observeReconcile('error', (performance.now() - started) / 1000);
      throw err;
    }
  };
}

function countByStatus(vms: readonly KubernetesObject[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const vm of vms) {
    const status = (vm as { status?: { printableStatus?: string } }).status?.printableStatus ?? 'Unknown';
    counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

function countDisksByPhase(vms: readonly KubernetesObject[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const vm of vms) {
    for (const disk of (vm as { status?: { disks?: { phase?: string }[] } }).status?.disks ?? []) {
      const phase = disk.phase ?? 'Unknown';
      counts[phase] = (counts[phase] ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * The caches, each keeping only what the operator reads (cache-view.ts). A launcher or
 * attachment pod that changed is status work and goes to the queue's high lane; so does a
 * VM that has a launcher pod; a VM without one (a first reconcile) waits in the normal lane.
 */
function informers(kc: KubeConfig, onVm: (ns: string | undefined, name: string, lane: Lane) => void, opts: { log: pino.Logger; metrics: OperatorMetrics }) {
  const { log, metrics } = opts;
  const custom = makeTimedClient(kc, CustomObjectsApi);
  const core = makeTimedClient(kc, CoreV1Api);
  const onError = (err: unknown) => log.warn({ err: String(err) }, 'informer error');
  const restarts = (resource: string) => (reason: string) => {
    metrics.informerRestarts.inc({ resource });
    log.info({ resource, reason }, 'watch restarted');
  };
  const vms = createInformer<KubernetesObject>({
    kc,
    path: '/apis/kubevmm.io/v1alpha1/virtualmachines',
    list: () => custom.listClusterCustomObject({ group: 'kubevmm.io', version: 'v1alpha1', plural: 'virtualmachines' }),
    transform: slimObject,
    onEvent: (_t, vm) => {
      const name = vm.metadata?.name ?? '';
      onVm(vm.metadata?.namespace, name, pods.get(vm.metadata?.namespace, launcherPodName(name)) ? 'high' : 'normal');
    },
    onError,
    onRestart: restarts('virtualmachines'),
  });
  const classes = createInformer<KubernetesObject>({
    kc,
    path: '/apis/kubevmm.io/v1alpha1/virtualmachineclasses',
    list: () => custom.listClusterCustomObject({ group: 'kubevmm.io', version: 'v1alpha1', plural: 'virtualmachineclasses' }),
    transform: slimObject,
    // A class change can change what its VMs should be: look at all of them.
    onEvent: () => vms.list().forEach((vm) => onVm(vm.metadata?.namespace, vm.metadata?.name ?? '', 'normal')),
    onError,
    onRestart: restarts('virtualmachineclasses'),
  });
  const pods = createInformer<V1Pod>({
    kc,
    path: '/api/v1/pods',
    labelSelector: VM_LABEL,
    list: () => core.listPodForAllNamespaces({ labelSelector: VM_LABEL }),
    transform: slimPod,
    onEvent: (_t, pod) => {
      const vm = pod.metadata?.labels?.[VM_LABEL];
      if (vm) onVm(pod.metadata?.namespace, vm, 'high');
    },
    onError,
    onRestart: restarts('pods'),
  });
  return { vms, classes, pods };
}

async function run(flags: RunFlags, opts: Record<string, unknown>): Promise<void> {
  const log = pino({ base: { component: 'kubevmm-operator' }, timestamp: pino.stdTimeFunctions.isoTime });
  const config = configFromOptions(opts);
  if (!isQuantity(flags.defaultImageSize) || !(parseQuantity(flags.defaultImageSize) >= 2 ** 20)) throw new Error(`--default-image-size ${flags.defaultImageSize}: must be a quantity of at least 1Mi, such as 10Gi`);
  const networkPolicy = flags.launcherNetworkPolicy ? parseLauncherNetworkPolicy(flags.launcherNetworkPolicy) : undefined;
  const subresources = subresourceSettings(opts);
  const ui = uiSettings(opts);
  const kc = new KubeConfig();
  kc.loadFromDefault();
  useKeepAlive(kc);
  let queue: WorkQueue | undefined;
  const enqueue = (ns: string | undefined, name: string, lane: Lane = 'normal') => queue?.add(vmKey(ns, name), lane);
  let vmList: () => KubernetesObject[] = () => [];
  const reach = new LauncherReach();
  const metrics = createMetrics({
    queueDepth: () => queue?.depth ?? 0,
    vmsByStatus: () => countByStatus(vmList()),
    disksByPhase: () => countDisksByPhase(vmList()),
    unreachableLaunchers: () => reach.count,
  });
  const caches = informers(kc, enqueue, { log, metrics });
  let imageQueue: WorkQueue | undefined;
  const imageCaches = imageInformers(kc, (ns, name, lane) => imageQueue?.add(vmKey(ns, name), lane), { log, metrics });
  vmList = () => caches.vms.list();
  const api = new ClusterApi(kc, (verb, resource, code, seconds) => metrics.observeApiRequest(verb, resource, code, seconds));
  const synced = () => caches.vms.synced && caches.classes.synced && caches.pods.synced && imageCaches.images.synced && imageCaches.importers.synced && imageCaches.sources.synced;
  // Every replica serves the webhook from its caches; the certificate Secret lives in the operator's namespace.
  const webhook = runWebhook({
    settings: webhookSettings(opts),
    kc,
    namespace: flags.leaseNamespace,
    caches: { vms: caches.vms as unknown as Informer<VirtualMachine>, classes: caches.classes as unknown as Informer<VirtualMachineClass>, synced },
    log,
    observe: (verb, resource, code, seconds) => metrics.observeApiRequest(verb, resource, code, seconds),
    onReview: (resource, result, seconds) => metrics.observeWebhookReview(resource, result, seconds),
  });
  // The launcher CA lives in the operator's namespace; without it no launcher can be reached.
  const authority = await loadLauncherAuthority({ api, namespace: flags.leaseNamespace, name: flags.launcherCaSecret, log: (msg, fields) => log.info(fields ?? {}, msg) });
  const identity = new ClientIdentity(authority, CONTROL_CLIENTS.operator);
  const healthy = () =>
    livenessProblems({
      informers: { virtualmachines: caches.vms, virtualmachineclasses: caches.classes, pods: caches.pods, virtualmachineimages: imageCaches.images, 'importer-pods': imageCaches.importers, 'image-source-pods': imageCaches.sources },
      ...(queue ? { queueStalledMs: queue.stalledMs() } : {}),
      queueStallLimitMs: flags.queueStallSeconds * 1000,
      now: Date.now(),
    });
  const health = await startHealthServer({ port: flags.healthPort, metrics, ready: () => synced() && webhook.serving(), healthy });
  log.info({ url: health.url }, 'serving /healthz, /readyz and /metrics');
  const credentials = new LauncherCredentials(api, authority);
  const networkPolicies = networkPolicy ? new LauncherNetworkPolicies(api, networkPolicy) : undefined;
  const deps: ControllerDeps = {
    api,
    launcher: new LauncherClient({ timeoutMs: 1000, quietMs: 30_000, tls: () => identity.current() }),
    credentials,
    images: imageCaches.images,
    ...(networkPolicies ? { networkPolicies } : {}),
    quotaRetryMs: 10_000,
    now: () => new Date(),
    // The API server validated these against the CRD schema; reconcile validates them again.
    vms: caches.vms as unknown as Informer<VirtualMachine>,
    classes: caches.classes as unknown as Informer<VirtualMachineClass>,
    pods: caches.pods,
    reach,
    expectations: new Expectations(),
    finalizers: new Expectations(),
    settings: { config, crashLoopBaseMs: flags.crashLoopBaseSeconds * 1000, crashLoopMaxMs: 300_000, pollMs: 5_000, startingHoldMs: flags.startingHoldSeconds * 1000 },
    log: (msg, fields) => log.info(fields ?? {}, msg),
  };
  const imageDeps: ImageControllerDeps = {
    api,
    credentials,
    now: () => new Date(),
    images: imageCaches.images,
    pods: imageCaches.importers,
    sourcePods: imageCaches.sources,
    ...(networkPolicies ? { networkPolicies } : {}),
    importers: new LauncherClient({ timeoutMs: 1000, quietMs: 30_000, port: IMPORTER_PORT, tls: () => identity.current() }),
    expectations: new Expectations(),
    settings: { launcherImage: config.launcherImage, pollMs: 2_000, defaultSizeBytes: parseQuantity(flags.defaultImageSize) },
    log: (msg, fields) => log.info(fields ?? {}, msg),
  };
  await Promise.all([caches.vms.start(), caches.classes.start(), caches.pods.start(), imageCaches.images.start(), imageCaches.importers.start(), imageCaches.sources.start()]);
  log.info({ config }, 'caches synced');
  const lead = () => {
    log.info({ identity: flags.identity }, 'leading: reconciling');
    metrics.leader.set(1);
    queue = new WorkQueue({
      workers: flags.workers,
      baseDelayMs: 500,
      maxDelayMs: 60_000,
      handler: timedReconcile(deps, metrics),
      ...queueHooks(metrics, (key, err, retryInMs) => log.warn({ vm: key, err: String(err), retryInMs }, 'reconcile failed')),
    });
    imageQueue = runImageQueue(imageDeps, { workers: flags.workers, resyncSeconds: flags.resyncSeconds, log });
    const resyncAll = () => caches.vms.list().forEach((vm) => enqueue(vm.metadata?.namespace, vm.metadata?.name ?? ''));
    resyncAll();
    setInterval(resyncAll, flags.resyncSeconds * 1000).unref();
    // The subresource server's certificates and the APIService's caBundle: the leader's writes.
    const observe = (verb: string, resource: string, code: number, seconds: number) => metrics.observeApiRequest(verb, resource, code, seconds);
    if (subresources) {
      runSubresourceCredentials({ settings: subresources, api: new CertificateKube(kc, observe), namespace: flags.leaseNamespace, authority, log });
    }
    // The web console's serving certificate: the leader's write too.
    if (ui) {
      runUiCredentials({ settings: ui, api: new CertificateKube(kc, observe), namespace: flags.leaseNamespace, log });
    }
  };
  if (!flags.leaderElect) return lead();
  const election = runLeaderElection({
    kc,
    namespace: flags.leaseNamespace,
    name: flags.leaseName,
    identity: flags.identity,
    onStartedLeading: lead,
    onStoppedLeading: () => {
      // A replica that lost its lease may have writes in flight: exit and start clean.
      log.error('lost leadership; exiting');
      process.exit(1);
    },
    onError: (err) => log.warn({ err: String(err) }, 'leader election'),
  });
  const shutdown = () => void election.stop().finally(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

/** Parses the command line and runs the operator until it is stopped. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = withUiOptions(withSubresourceOptions(withWebhookOptions(withConfigOptions(new Command('kubevmm-operator').description('reconcile VirtualMachines into launcher pods')))))
    .option('--workers <n>', 'concurrent reconciles', Number, 4)
    .option('--resync-seconds <n>', 'look at every VM this often', Number, 300)
    .option('--crash-loop-base-seconds <n>', 'first delay before restarting a failed VM', Number, 10)
    .option('--starting-hold-seconds <n>', 'a launcher Ready within this long after its creation is reported Running without a Starting status first (0: always report Starting)', Number, 5)
    .option('--lease-namespace <ns>', "the operator's namespace: the leader-election Lease, the launcher CA and the certificate Secrets (webhook, subresource server, web console)", process.env.POD_NAMESPACE ?? 'default')
    .addOption(new Option('--launcher-network-policy <json>', 'write NetworkPolicies for launcher and attachment pods in VM namespaces: {"controlFrom": [peers], "guestFrom": [peers]}').env('KUBEVMM_LAUNCHER_NETWORK_POLICY'))
    .addOption(new Option('--launcher-ca-secret <name>', "Secret in the operator's namespace holding the launcher CA (created when absent)").env('KUBEVMM_LAUNCHER_CA_SECRET').default('kubevmm-launcher-ca'))
    .option('--lease-name <name>', 'name of the leader-election Lease', 'kubevmm-operator')
    .option('--identity <id>', 'this replica in the Lease', process.env.POD_NAME ?? `${hostname()}-${process.pid}`)
    .option('--no-leader-elect', 'reconcile without electing a leader (one replica only)')
    .option('--health-port <n>', 'port of /healthz, /readyz and /metrics (0: any free port)', Number, 8081)
    .addOption(new Option('--default-image-size <quantity>', 'size of a VirtualMachineImage claim when spec.storage.size is not set (and no source claim gives one)').env('KUBEVMM_DEFAULT_IMAGE_SIZE').default('10Gi'))
    .option('--queue-stall-seconds <n>', '/healthz fails when the work queue has work but finishes no reconcile for this long', Number, 300)
    .action(async (opts: RunFlags & Record<string, unknown>) => run(opts, opts));
  await program.parseAsync([...argv]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv).catch((err: unknown) => {
    console.error(`kubevmm-operator: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
