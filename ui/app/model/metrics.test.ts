import type { VmMetricsObject } from '../../../api/contract/subresource.js';
import { HISTORY_SECONDS, MetricsHistory, pointOf } from './metrics.js';

const sample = (sec: number, cpu: number, read: number): VmMetricsObject =>
  ({ kind: 'VirtualMachineMetrics', apiVersion: 'subresources.kubevmm.io/v1alpha1', metadata: { name: 'web', namespace: 'ns' }, time: new Date(Date.UTC(2026, 11, 1, 10, 0, sec)).toISOString(), state: 'running', cpu: { qemuSeconds: cpu }, memory: { guestBytes: 2 ** 30, residentBytes: 2 ** 29 }, disks: [{ name: 'boot', readBytes: read, writeBytes: 0, readOps: 0, writeOps: 0, flushOps: 0 }], failed: [] }) as unknown as VmMetricsObject;

describe('performance samples', () => {
  it('turns counters into rates between two samples', () => {
    const p = pointOf(sample(3, 10.5, 3 * 1024 * 10), sample(0, 10, 0));
    expect(p.cpuPercent).toBeCloseTo((0.5 / 3) * 100);
    expect(p.readKiBs).toBeCloseTo(10);
    expect(p.residentMiB).toBe(512);
    expect(p.guestMiB).toBe(1024);
  });
  it('has no rate for the first sample or after a counter reset (VM restarted)', () => {
    expect(pointOf(sample(0, 10, 0), undefined).cpuPercent).toBeNull();
    expect(pointOf(sample(3, 1, 0), sample(0, 10, 0)).cpuPercent).toBeNull();
  });
  it('keeps ten minutes, ignores a repeated sample, and gives uPlot columns', () => {
    const h = new MetricsHistory();
    for (let s = 0; s <= HISTORY_SECONDS + 30; s += 3) h.add(sample(s, s, 0));
    expect(h.points.length).toBeLessThanOrEqual(HISTORY_SECONDS / 3 + 1);
    const before = h.points.length;
    h.add(sample(h.points.at(-1)!.t - Date.UTC(2026, 11, 1, 10, 0, 0) / 1000, 0, 0));
    expect(h.points.length).toBe(before);
    const cols = h.columns(['cpuPercent']);
    expect(cols).toHaveLength(2);
    expect(cols[0]).toHaveLength(before);
  });
});
