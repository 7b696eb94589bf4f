import { vmMetricsReport } from '../../api/contract/control.js';
import { diskIo } from './parse.js';
import type { VmSnapshot } from './render.js';
import { metricsReport } from './report.js';
import { VIRTIO_VM } from '../../test/fakes/qmp-metrics-data.js';

const TIME = new Date('2026-03-01T12:00:05.250Z');

/** A scrape where every source answered (the recorded VIRTIO_VM's numbers). */
const FULL: VmSnapshot = {
  vm: { name: 'web', namespace: 'prod' },
  state: 'running',
  accelerator: 'tcg',
  vcpuSeconds: [
    { vcpu: 0, seconds: 4.73 },
    { vcpu: 1, seconds: 2.2 },
  ],
  qemuCpuSeconds: 8.13,
  qemuResidentBytes: 208556 * 1024,
  guestMemoryBytes: 192 * 2 ** 20,
  balloonBytes: 160 * 2 ** 20,
  disks: diskIo(VIRTIO_VM.blockstats),
  failed: [],
};

describe('metricsReport', () => {
  it('maps every family of a full scrape, and the result is the contract', () => {
    const report = metricsReport(FULL, TIME);
    expect(report).toEqual({
      time: '2026-03-01T12:00:05.250Z',
      state: 'running',
      cpu: { qemuSeconds: 8.13, vcpus: [{ vcpu: 0, seconds: 4.73 }, { vcpu: 1, seconds: 2.2 }] },
      memory: { guestBytes: 192 * 2 ** 20, residentBytes: 208556 * 1024, balloonBytes: 160 * 2 ** 20 },
      disks: [
        { name: 'root', readBytes: 16252416, writeBytes: 0, readOps: 546, writeOps: 0, flushOps: 0 },
        { name: 'data1', readBytes: 29184, writeBytes: 4096, readOps: 5, writeOps: 1, flushOps: 1 },
      ],
      failed: [],
    });
    expect(vmMetricsReport.parse(report)).toEqual(report);
  });

  it('leaves out what a failed source did not give, and names the source', () => {
    const { vcpuSeconds: _v, balloonBytes: _b, disks: _d, ...rest } = FULL;
    const report = metricsReport({ ...rest, failed: ['query-balloon', 'query-blockstats', 'query-cpus-fast'] }, TIME);
    expect(report.cpu).toEqual({ qemuSeconds: 8.13 });
    expect(report.memory).toEqual({ guestBytes: 192 * 2 ** 20, residentBytes: 208556 * 1024 });
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
