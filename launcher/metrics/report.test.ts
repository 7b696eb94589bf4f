import { vmMetricsReport } from '../../api/contract/control.js';
import type { VmSnapshot } from './render.js';
import { metricsReport } from './report.js';

const TIME = new Date('2026-03-01T12:00:05.250Z');

/** A scrape where every source answered: a 3-vCPU VM with one disk. */
const FULL: VmSnapshot = {
  vm: { name: 'db', namespace: 'team-a' },
  state: 'paused',
  accelerator: 'kvm',
  vcpuSeconds: [0.5, 1.25, 30].map((seconds, vcpu) => ({ vcpu, seconds })),
  qemuCpuSeconds: 40.5,
  qemuResidentBytes: 3 * 2 ** 30,
  guestMemoryBytes: 4 * 2 ** 30,
  balloonBytes: 2 * 2 ** 30,
  disks: [{ disk: 'data', readBytes: 1e9, writeBytes: 2e9, readOps: 7, writeOps: 8, flushOps: 9, readSeconds: 1.5, writeSeconds: 2.5, flushSeconds: 0.1 }],
  failed: [],
};

describe('metricsReport', () => {
  it('maps every family of a full scrape, and the result is the contract', () => {
    const report = metricsReport(FULL, TIME);
    expect(report).toEqual({
      time: '2026-03-01T12:00:05.250Z',
      state: 'paused',
      cpu: { qemuSeconds: 40.5, vcpus: [{ vcpu: 0, seconds: 0.5 }, { vcpu: 1, seconds: 1.25 }, { vcpu: 2, seconds: 30 }] },
      memory: { guestBytes: 4 * 2 ** 30, residentBytes: 3 * 2 ** 30, balloonBytes: 2 * 2 ** 30 },
      // The time spent per operation is Prometheus' (kubevmm_vm_disk_seconds_total); the report has counts.
      disks: [{ name: 'data', readBytes: 1e9, writeBytes: 2e9, readOps: 7, writeOps: 8, flushOps: 9 }],
      failed: [],
    });
    expect(vmMetricsReport.parse(report)).toEqual(report);
  });

  it('leaves out what a failed source did not give, and names the source', () => {
    const { vcpuSeconds: _v, balloonBytes: _b, disks: _d, ...rest } = FULL;
    const report = metricsReport({ ...rest, failed: ['query-balloon', 'query-blockstats', 'query-cpus-fast'] }, TIME);
    expect(report.cpu).toEqual({ qemuSeconds: 40.5 });
    expect(report.memory).toEqual({ guestBytes: 4 * 2 ** 30, residentBytes: 3 * 2 ** 30 });
    expect(report).not.toHaveProperty('disks');
    expect(report.failed).toEqual(['query-balloon', 'query-blockstats', 'query-cpus-fast']);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report); // no undefined keys on the wire
    expect(vmMetricsReport.safeParse(report).success).toBe(true);
  });

  it('reports a VM that has not started (or has ended) with its state alone', () => {
    const report = metricsReport({ vm: FULL.vm, state: 'succeeded', accelerator: 'kvm', failed: [] }, TIME);
    expect(report).toEqual({ time: '2026-03-01T12:00:05.250Z', state: 'succeeded', cpu: {}, memory: {}, failed: [] });
  });
});
