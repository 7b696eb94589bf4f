// Per-VM Prometheus metrics of the launcher (docs/metrics.md), served at GET /metrics on the
// control port. Collected at scrape time: nothing runs between scrapes.

import type { LauncherVm } from '../../api/resolve.js';
import { isFinal } from '../runtime/state.js';
import type { VmSupervisor } from '../runtime/vmm.js';
import { collectSnapshot, type CollectOptions, type VmMetricsSource } from './collect.js';
import type { VmMetricsReport } from '../../api/contract/control.js';
import { renderSnapshot, type RenderedMetrics } from './render.js';
import { metricsReport } from './report.js';

export { collectSnapshot, DEFAULT_QUERY_TIMEOUT_MS } from './collect.js';
export type { CollectOptions, VmMetricsSource } from './collect.js';
export { renderSnapshot, VM_PHASES } from './render.js';
export { metricsReport } from './report.js';
export type { RenderedMetrics, VmSnapshot } from './render.js';

/** Renders the VM's metrics on demand. */
export interface VmMetrics {
  /** Collects and renders one scrape; never rejects because QEMU did not answer. */
  render(): Promise<RenderedMetrics>;
  /** Collects the same numbers as JSON (GET /vm-metrics); never rejects because QEMU did not answer. */
  report(): Promise<VmMetricsReport>;
}

/** The metrics of the VM `supervisor` runs. */
export function vmMetrics(supervisor: Pick<VmSupervisor, 'status' | 'monitor' | 'pid'>, vm: Pick<LauncherVm, 'name' | 'namespace' | 'devices'>, options: CollectOptions = {}): VmMetrics {
  const source: VmMetricsSource = {
    vm,
    status: () => supervisor.status(),
    qmp: () => supervisor.monitor,
    // After the end the pid may belong to nobody (or, later, to someone else).
    pid: () => (isFinal(supervisor.status().state) ? undefined : supervisor.pid),
  };
  return {
    render: async () => renderSnapshot(await collectSnapshot(source, options)),
    report: async () => metricsReport(await collectSnapshot(source, options), new Date()),
  };
}
