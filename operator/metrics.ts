/**
 * The operator's Prometheus metrics, on a Registry of its own (never prom-client's global
 * one, so tests and several operators in one process do not share counters).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How one reconcile ended: the `result` label. */
export type ReconcileResult = 'success' | 'error' | 'requeue';

/** Read at scrape time, so the gauges are never stale. */
export interface MetricSources {
  /** Keys waiting in the work queue. */
  queueDepth?: () => number;
  /** VirtualMachines in the cache, counted by status.printableStatus. */
  vmsByStatus?: () => Record<string, number>;
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
  /** kubevmm_vms{status} */
  readonly vms: Gauge<'status'>;
  /** kubevmm_api_requests_total{verb,resource,code}; code 0 means no response came. */
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  /** kubevmm_informer_restarts_total{resource} */
  readonly informerRestarts: Counter<'resource'>;
  /** kubevmm_leader: 1 while this replica holds the lease. */
  readonly leader: Gauge;
  /** Counts one reconcile and records how long it took. */
  observeReconcile(result: ReconcileResult, seconds: number): void;
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
  const queueDepth = sources.queueDepth;
  const workqueueDepth: Gauge = new Gauge({
    name: 'kubevmm_workqueue_depth',
    help: 'Keys waiting in the work queue.',
    registers: [registry],
    collect: queueDepth ? (): void => workqueueDepth.set(queueDepth()) : undefined,
  });
  const vms = vmsGauge(registry, sources.vmsByStatus);
  const apiRequests = new Counter({
    name: 'kubevmm_api_requests_total',
    help: 'Requests to the Kubernetes API server, by verb, resource and HTTP code (0: no response).',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [registry],
  });
  const informerRestarts = new Counter({
    name: 'kubevmm_informer_restarts_total',
    help: 'Watches that ended and were restarted (or relisted), by resource.',
    labelNames: ['resource'] as const,
    registers: [registry],
  });
  const leader = new Gauge({ name: 'kubevmm_leader', help: '1 while this replica is the leader, else 0.', registers: [registry] });
  leader.set(0);
  workqueueDepth.set(0);
  return {
    registry,
    reconcileDuration,
    reconcileTotal,
    workqueueDepth,
    vms,
    apiRequests,
    informerRestarts,
    leader,
    observeReconcile(result, seconds) {
      reconcileTotal.inc({ result });
      reconcileDuration.observe({ result }, seconds);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** kubevmm_vms: rebuilt on each scrape so a status nobody has any more drops out. */
function vmsGauge(registry: Registry, vmsByStatus: MetricSources['vmsByStatus']): Gauge<'status'> {
  const gauge: Gauge<'status'> = new Gauge({
    name: 'kubevmm_vms',
    help: 'VirtualMachines by status.printableStatus.',
    labelNames: ['status'] as const,
    registers: [registry],
    collect: vmsByStatus
      ? (): void => {
          gauge.reset();
          for (const [status, count] of Object.entries(vmsByStatus())) gauge.set({ status }, count);
        }
      : undefined,
  });
  return gauge;
}
