// One scrape's numbers -> Prometheus text. Each scrape gets a fresh prom-client Registry (never
// the global one) holding only the families that were collected: a family whose source failed
// is absent rather than stale or zero.

import { Counter, Gauge, Registry } from 'prom-client';
import type { Accelerator } from '../runtime/accel.js';
import type { VmPhase } from '../runtime/state.js';
import type { DiskIo } from './parse.js';

/** Every phase the launcher reports; kubevmm_vm_state has one series per phase. */
export const VM_PHASES: readonly VmPhase[] = ['starting', 'running', 'paused', 'stopping', 'succeeded', 'failed'];

/** What one scrape collected; optional families are absent when their source failed. */
export interface VmSnapshot {
  vm: { name: string; namespace: string };
  state: VmPhase;
  accelerator: Accelerator;
  /** vCPU index -> CPU seconds of its thread. */
  vcpuSeconds?: { vcpu: number; seconds: number }[];
  /** CPU seconds of the whole QEMU process (vCPUs, I/O and main-loop threads). */
  qemuCpuSeconds?: number;
  qemuResidentBytes?: number;
  guestMemoryBytes?: number;
  balloonBytes?: number;
  disks?: DiskIo[];
  /** Sources that failed in this scrape (e.g. `query-blockstats`, `proc`). */
  failed: string[];
}

/** The exposition text and its content type. */
export interface RenderedMetrics {
  contentType: string;
  body: string;
}

type Family = 'gauge' | 'counter';

/** Registers one family and sets its samples; nothing is registered for no samples. */
function family(registry: Registry, spec: { type: Family; name: string; help: string; labels?: string[] }, samples: [Record<string, string>, number][]): void {
  if (samples.length === 0) return;
  const labelNames = spec.labels ?? [];
  if (spec.type === 'gauge') {
    const gauge = new Gauge({ name: spec.name, help: spec.help, labelNames, registers: [registry] });
    for (const [labels, value] of samples) gauge.set(labels, value);
  } else {
    const counter = new Counter({ name: spec.name, help: spec.help, labelNames, registers: [registry] });
    for (const [labels, value] of samples) counter.inc(labels, value);
  }
}

function diskFamilies(registry: Registry, disks: readonly DiskIo[]): void {
  const by = (pick: (d: DiskIo) => [string, number][]): [Record<string, string>, number][] =>
    disks.flatMap((d) => pick(d).map(([op, value]): [Record<string, string>, number] => [{ disk: d.disk, op }, value]));
  const labels = ['disk', 'op'];
  family(registry, { type: 'counter', name: 'kubevmm_vm_disk_bytes_total', help: 'Bytes the guest read from or wrote to a disk, by op (read, write).', labels }, by((d) => [['read', d.readBytes], ['write', d.writeBytes]]));
  family(
    registry,
    { type: 'counter', name: 'kubevmm_vm_disk_ops_total', help: 'Requests the guest completed on a disk, by op (read, write, flush).', labels },
    by((d) => [['read', d.readOps], ['write', d.writeOps], ['flush', d.flushOps]]),
  );
  family(
    registry,
    { type: 'counter', name: 'kubevmm_vm_disk_seconds_total', help: 'Time QEMU spent completing the disk requests, summed over requests, by op.', labels },
    by((d) => [['read', d.readSeconds], ['write', d.writeSeconds], ['flush', d.flushSeconds]]),
  );
}

const one = (value: number | undefined): [Record<string, string>, number][] => (value === undefined ? [] : [[{}, value]]);

/** Renders a snapshot; every sample carries the `namespace` and `vm` labels. */
export async function renderSnapshot(snapshot: VmSnapshot): Promise<RenderedMetrics> {
  const registry = new Registry();
  registry.setDefaultLabels({ namespace: snapshot.vm.namespace, vm: snapshot.vm.name });
  family(registry, { type: 'gauge', name: 'kubevmm_vm_info', help: 'Always 1; the accelerator QEMU runs the guest with (query-kvm): kvm or tcg.', labels: ['accelerator'] }, [[{ accelerator: snapshot.accelerator }, 1]]);
  family(
    registry,
    { type: 'gauge', name: 'kubevmm_vm_state', help: 'The launcher phase of the VM: 1 for the current phase, 0 for the others.', labels: ['state'] },
    VM_PHASES.map((state) => [{ state }, state === snapshot.state ? 1 : 0]),
  );
  family(
    registry,
    { type: 'counter', name: 'kubevmm_vm_vcpu_seconds_total', help: 'Host CPU time of the thread running each vCPU (user + system).', labels: ['vcpu'] },
    (snapshot.vcpuSeconds ?? []).map(({ vcpu, seconds }) => [{ vcpu: String(vcpu) }, seconds]),
  );
  family(registry, { type: 'counter', name: 'kubevmm_vm_qemu_cpu_seconds_total', help: 'Host CPU time of the whole QEMU process (user + system).' }, one(snapshot.qemuCpuSeconds));
  family(registry, { type: 'gauge', name: 'kubevmm_vm_qemu_resident_bytes', help: 'Resident memory of the QEMU process (VmRSS), guest RAM the guest touched included.' }, one(snapshot.qemuResidentBytes));
  family(registry, { type: 'gauge', name: 'kubevmm_vm_memory_bytes', help: 'Guest RAM size: boot memory plus hotplugged memory.' }, one(snapshot.guestMemoryBytes));
  family(registry, { type: 'gauge', name: 'kubevmm_vm_balloon_bytes', help: 'Memory the guest has while the balloon holds the rest (equals kubevmm_vm_memory_bytes when deflated).' }, one(snapshot.balloonBytes));
  diskFamilies(registry, snapshot.disks ?? []);
  family(
    registry,
    { type: 'gauge', name: 'kubevmm_vm_metrics_source_failed', help: 'A source that failed in this scrape (its families are missing); absent when all worked.', labels: ['source'] },
    snapshot.failed.map((source) => [{ source }, 1]),
  );
  return { contentType: registry.contentType, body: await registry.metrics() };
}
