// One collection's numbers -> the JSON the control API answers on GET /vm-metrics (the
// `virtualmachines/metrics` subresource, for the web console's charts). The same snapshot as
// the Prometheus text: a family whose source failed is absent here too, and named in `failed`.

import type { VmMetricsReport } from '../../api/contract/control.js';
import type { VmSnapshot } from './render.js';

/** Keeps only the fields that have a value, so an absent family stays absent in the JSON. */
function present<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The report of `snapshot`, read at `time`. */
export function metricsReport(snapshot: VmSnapshot, time: Date): VmMetricsReport {
  return {
    time: time.toISOString(),
    state: snapshot.state,
    cpu: present({ qemuSeconds: snapshot.qemuCpuSeconds, vcpus: snapshot.vcpuSeconds?.map(({ vcpu, seconds }) => ({ vcpu, seconds })) }),
    memory: present({ guestBytes: snapshot.guestMemoryBytes, residentBytes: snapshot.qemuResidentBytes, balloonBytes: snapshot.balloonBytes }),
    ...(snapshot.disks
      ? { disks: snapshot.disks.map((d) => ({ name: d.disk, readBytes: d.readBytes, writeBytes: d.writeBytes, readOps: d.readOps, writeOps: d.writeOps, flushOps: d.flushOps })) }
      : {}),
    failed: [...snapshot.failed],
  };
}
