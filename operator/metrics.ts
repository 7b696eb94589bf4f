/**
 * The operator's Prometheus metrics, on a Registry of its own (never prom-client's global
 * one, so tests and several operators in one process do not share counters).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WorkQueueOptions } from './queue.js';

/** How one reconcile ended: the `result` label. */
export type ReconcileResult = 'success' | 'error' | 'requeue';

/** How one admission review ended: decided either way, or not decidable (a malformed review, a webhook bug). */
export type ReviewResult = 'allowed' | 'denied' | 'error';

/** Read at scrape time, so the gauges are never stale. */
export interface MetricSources {
  /** Keys waiting in the work queue. */
  queueDepth?: () => number;
  /** VirtualMachines in the cache, counted by status.printableStatus. */
  vmsByStatus?: () => Record<string, number>;
  /** Disks in the VMs' status.disks (hotplug), counted by phase. */
  disksByPhase?: () => Record<string, number>;
  /** VMs whose launcher pod runs but whose launcher did not answer the last status call. */
  unreachableLaunchers?: () => number;
}

/** Every metric the operator exports, typed by its labels. */
export interface OperatorMetrics {
  readonly registry: Registry;
  /** kubevmm_reconcile_duration_seconds{result} */
  readonly reconcileDuration: Histogram<'result'>;
  /** kubevmm_reconcile_total{result} */
  readonly reconcileTotal: Counter<'result'>;
  /** kubevmm_workqueue_depth */
  readonly workqueueDepth: Gauge;
  /** kubevmm_workqueue_adds_total: keys that entered the queue (an add of a waiting key is not one). */
  readonly workqueueAdds: Counter;
  /** kubevmm_workqueue_retries_total: failed reconciles scheduled again with backoff. */
  readonly workqueueRetries: Counter;
  /** kubevmm_workqueue_queue_duration_seconds: how long a key waited for a worker. */
  readonly workqueueWait: Histogram;
  /** kubevmm_vms{status} */
  readonly vms: Gauge<'status'>;
  /** kubevmm_api_requests_total{verb,resource,code}; code 0 means no response came. */
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  /** kubevmm_api_request_duration_seconds{verb,resource} */
  readonly apiRequestDuration: Histogram<'verb' | 'resource'>;
  /** kubevmm_informer_restarts_total{resource} */
  readonly informerRestarts: Counter<'resource'>;
  /** kubevmm_leader: 1 while this replica holds the lease. */
  readonly leader: Gauge;
  /** kubevmm_vm_disks{phase} */
  readonly vmDisks: Gauge<'phase'>;
  /** kubevmm_launchers_unreachable */
  readonly launchersUnreachable: Gauge;
  /** kubevmm_webhook_reviews_total{resource,result} */
  readonly webhookReviews: Counter<'resource' | 'result'>;
  /** kubevmm_webhook_review_duration_seconds{resource} */
  readonly webhookReviewDuration: Histogram<'resource'>;
  /** Counts one admission review by resource and result and records how long it took. */
  observeWebhookReview(resource: string, result: ReviewResult, seconds: number): void;
  /** Counts one reconcile and records how long it took. */
  observeReconcile(result: ReconcileResult, seconds: number): void;
  /** Counts one API request by verb, resource and HTTP code (0: no response) and records its duration. */
  observeApiRequest(verb: string, resource: string, code: number, seconds: number): void;
  /** The exposition text and its content type, as /metrics serves them. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Creates the registry with the kubevmm_ metrics and Node's default process metrics. */
export function createMetrics(sources: MetricSources = {}): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const reconcileDuration = new Histogram({
    name: 'kubevmm_reconcile_duration_seconds',
    help: 'Time one reconcile of a VirtualMachine took, by result.',
    labelNames: ['result'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const reconcileTotal = new Counter({
    name: 'kubevmm_reconcile_total',
    help: 'Reconciles of VirtualMachines, by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const api = apiMetrics(registry);
  const informerRestarts = new Counter({
    name: 'kubevmm_informer_restarts_total',
    help: 'Watches that ended and were restarted (or relisted), by resource.',
    labelNames: ['resource'] as const,
    registers: [registry],
  });
  const leader = new Gauge({ name: 'kubevmm_leader', help: '1 while this replica is the leader, else 0.', registers: [registry] });
  leader.set(0);
  const webhook = webhookMetrics(registry);
  return {
    registry,
    reconcileDuration,
    reconcileTotal,
    ...queueMetrics(registry, sources.queueDepth),
    vms: countsGauge(registry, { name: 'kubevmm_vms', help: 'VirtualMachines by status.printableStatus.', label: 'status' }, sources.vmsByStatus),
    vmDisks: countsGauge(registry, { name: 'kubevmm_vm_disks', help: 'Disks in VirtualMachine status (hotplug), by phase.', label: 'phase' }, sources.disksByPhase),
    launchersUnreachable: sourcedGauge(registry, 'kubevmm_launchers_unreachable', 'VMs whose launcher pod runs but whose launcher did not answer the last status call.', sources.unreachableLaunchers),
    ...api,
    ...webhook,
    informerRestarts,
    leader,
    observeWebhookReview(resource, result, seconds) {
      webhook.webhookReviews.inc({ resource, result });
      webhook.webhookReviewDuration.observe({ resource }, seconds);
    },
    observeReconcile(result, seconds) {
      reconcileTotal.inc({ result });
      reconcileDuration.observe({ result }, seconds);
    },
    observeApiRequest(verb, resource, code, seconds) {
      api.apiRequests.inc({ verb, resource, code: String(code) });
      api.apiRequestDuration.observe({ verb, resource }, seconds);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** The work queue's families; the depth is read from the queue at scrape time. */
function queueMetrics(registry: Registry, queueDepth: MetricSources['queueDepth']) {
  const workqueueDepth: Gauge = new Gauge({
    name: 'kubevmm_workqueue_depth',
    help: 'Keys waiting in the work queue.',
    registers: [registry],
    collect: queueDepth ? (): void => workqueueDepth.set(queueDepth()) : undefined,
  });
  workqueueDepth.set(0);
  const workqueueAdds = new Counter({
    name: 'kubevmm_workqueue_adds_total',
    help: 'Keys that entered the work queue (adding a key that already waits does not count).',
    registers: [registry],
  });
  const workqueueRetries = new Counter({
    name: 'kubevmm_workqueue_retries_total',
    help: 'Failed reconciles put back into the work queue with backoff.',
    registers: [registry],
  });
  const workqueueWait = new Histogram({
    name: 'kubevmm_workqueue_queue_duration_seconds',
    help: 'Time a key waited in the work queue before a worker took it.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers: [registry],
  });
  return { workqueueDepth, workqueueAdds, workqueueRetries, workqueueWait };
}

/** Requests to the API server made through ClusterApi. */
function apiMetrics(registry: Registry) {
  const apiRequests = new Counter({
    name: 'kubevmm_api_requests_total',
    help: 'Requests to the Kubernetes API server, by verb, resource and HTTP code (0: no response).',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [registry],
  });
  const apiRequestDuration = new Histogram({
    name: 'kubevmm_api_request_duration_seconds',
    help: 'Time a request to the Kubernetes API server took, answered or not, by verb and resource.',
    labelNames: ['verb', 'resource'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { apiRequests, apiRequestDuration };
}

/** Admission reviews the webhook answered. */
function webhookMetrics(registry: Registry) {
  const webhookReviews = new Counter({
    name: 'kubevmm_webhook_reviews_total',
    help: 'Admission reviews answered, by resource and result (allowed, denied, error: malformed or failed).',
    labelNames: ['resource', 'result'] as const,
    registers: [registry],
  });
  const webhookReviewDuration = new Histogram({
    name: 'kubevmm_webhook_review_duration_seconds',
    help: 'Time from a review request to its answer, by resource.',
    labelNames: ['resource'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return { webhookReviews, webhookReviewDuration };
}

/** A gauge of counts by one label, rebuilt on each scrape so a value nobody has any more drops out. */
function countsGauge<L extends string>(registry: Registry, spec: { name: string; help: string; label: L }, counts: (() => Record<string, number>) | undefined): Gauge<L> {
  const gauge: Gauge<L> = new Gauge({
    name: spec.name,
    help: spec.help,
    labelNames: [spec.label] as const,
    registers: [registry],
    collect: counts
      ? (): void => {
          gauge.reset();
          for (const [value, count] of Object.entries(counts())) gauge.set({ [spec.label]: value } as Record<L, string>, count);
        }
      : undefined,
  });
  return gauge;
}

/** A gauge read from `source` at scrape time (0 without one). */
function sourcedGauge(registry: Registry, name: string, help: string, source: (() => number) | undefined): Gauge {
  const gauge: Gauge = new Gauge({ name, help, registers: [registry], collect: source ? (): void => gauge.set(source()) : undefined });
  gauge.set(0);
  return gauge;
}

/**
 * The WorkQueue hooks that feed the work-queue families: adds, time in queue, and retries
 * (the queue retries every failure with backoff). `onError` still gets each failure, for logs.
 */
export function queueHooks(
  metrics: Pick<OperatorMetrics, 'workqueueAdds' | 'workqueueRetries' | 'workqueueWait'>,
  onError?: WorkQueueOptions['onError'],
): Required<Pick<WorkQueueOptions, 'onAdd' | 'onStart' | 'onError'>> {
  return {
    onAdd: () => metrics.workqueueAdds.inc(),
    onStart: (_key, waitedMs) => metrics.workqueueWait.observe(waitedMs / 1000),
    onError: (key, error, retryInMs) => {
      metrics.workqueueRetries.inc();
      onError?.(key, error, retryInMs);
    },
  };
}
