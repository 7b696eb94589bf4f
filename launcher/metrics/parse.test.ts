import { balloonBytes, diskIo, diskOfQdev, guestMemoryBytes, MetricsParseError, residentBytes, statCpuSeconds, vcpuThreads } from './parse.js';
import { SCSI_VM, VIRTIO_VM } from '../../test/fakes/qmp-metrics-data.js';

describe('vcpuThreads', () => {
  it('maps each vCPU index to its host thread (recorded query-cpus-fast)', () => {
    expect(vcpuThreads(VIRTIO_VM.cpusFast)).toEqual([
      { vcpu: 0, threadId: 2955 },
      { vcpu: 1, threadId: 2956 },
    ]);
  });

  it('orders by vCPU index whatever the reply order', () => {
    expect(vcpuThreads([...VIRTIO_VM.cpusFast].reverse()).map((t) => t.vcpu)).toEqual([0, 1]);
  });

  it.each([
    ['not a list', { 'cpu-index': 0 }, /query-cpus-fast: reply/],
    ['no thread-id', [{ 'cpu-index': 0, target: 'x86_64' }], /query-cpus-fast: 0\.thread-id/],
  ])('rejects a reply that is %s', (_what, reply, message) => {
    expect(() => vcpuThreads(reply)).toThrow(MetricsParseError);
    expect(() => vcpuThreads(reply)).toThrow(message);
  });
});

describe('statCpuSeconds', () => {
  it.each([
    ['the QEMU process (utime 773 + stime 40)', VIRTIO_VM.stat, 8.13],
    ['vCPU thread "CPU 0/TCG" (464 + 9)', VIRTIO_VM.vcpuStats[0], 4.73],
    ['vCPU thread "CPU 1/TCG" (208 + 12)', VIRTIO_VM.vcpuStats[1], 2.2],
    ['a name with ") (" in it', '7 (a) (b) c) S 1 1 1 0 -1 0 0 0 0 0 150 50 0 0 20 0 1 0 1 1 1', 2],
  ])('adds user and system time of %s', (_what, stat, seconds) => {
    expect(statCpuSeconds(stat)).toBeCloseTo(seconds, 6);
  });

  it.each([
    ['empty', ''],
    ['truncated', '7 (qemu) S 1 1 1 0 -1 0 0 0 0 0'],
    ['without a command name', '7 qemu S 1 1 1 0 -1 0 0 0 0 0 150 50'],
  ])('rejects a stat line that is %s', (_what, stat) => {
    expect(() => statCpuSeconds(stat)).toThrow(/\/proc stat: no utime and stime/);
  });
});

describe('residentBytes', () => {
  it('reads VmRSS in bytes', () => {
    expect(residentBytes(VIRTIO_VM.status)).toBe(208556 * 1024);
  });

  it('rejects a status without VmRSS (a zombie or kernel thread has none)', () => {
    expect(() => residentBytes('Name:\tqemu\nState:\tZ (zombie)\n')).toThrow(/no VmRSS line/);
  });
});

describe('memory', () => {
  it('guest memory is boot memory plus hotplugged memory', () => {
    expect(guestMemoryBytes(VIRTIO_VM.memorySizeSummary)).toBe(192 * 2 ** 20);
    expect(guestMemoryBytes({ 'base-memory': 1024, 'plugged-memory': 512 })).toBe(1536);
    expect(guestMemoryBytes({ 'base-memory': 1024 })).toBe(1024);
  });

  it('the balloon reports what the guest has now', () => {
    expect(balloonBytes(VIRTIO_VM.balloon)).toBe(192 * 2 ** 20);
    expect(() => balloonBytes({})).toThrow(/query-balloon: actual/);
  });
});

describe('diskOfQdev', () => {
  it.each([
    ['/machine/peripheral/disk-root/virtio-backend', 'root'],
    ['disk-data1', 'data1'],
    ['/machine/peripheral/disk-my-disk-2', 'my-disk-2'],
    ['/machine/peripheral/disk-/virtio-backend', undefined],
    ['/machine/peripheral/scsi0/virtio-backend', undefined],
    ['/machine/unattached/device[3]', undefined],
    ['', undefined],
  ])('%j -> %j', (qdev, disk) => {
    expect(diskOfQdev(qdev)).toBe(disk);
  });
});

describe('diskIo', () => {
  it('gives each virtio disk its front end counters (recorded query-blockstats)', () => {
    expect(diskIo(VIRTIO_VM.blockstats)).toEqual([
      { disk: 'root', readBytes: 16252416, writeBytes: 0, readOps: 546, writeOps: 0, flushOps: 0, readSeconds: 3.267313878, writeSeconds: 0, flushSeconds: 0 },
      { disk: 'data1', readBytes: 29184, writeBytes: 4096, readOps: 5, writeOps: 1, flushOps: 1, readSeconds: 0.011353176, writeSeconds: 0.000261476, flushSeconds: 0.000269325 },
    ]);
  });

  it('names scsi-hd disks by their bare qdev id and includes the cidata disk', () => {
    expect(diskIo(SCSI_VM.blockstats).map((d) => d.disk)).toEqual(['root', 'data1', 'cloudinit']);
  });

  it('skips backends that are not one of the launcher disks', () => {
    const stats = VIRTIO_VM.blockstats[0].stats;
    expect(diskIo([{ device: 'legacy', stats }, { device: '', qdev: '/machine/peripheral/cd0', stats }])).toEqual([]);
  });

  it('rejects entries without counters', () => {
    expect(() => diskIo([{ qdev: 'disk-a', stats: {} }])).toThrow(/query-blockstats: 0\.stats\.rd_bytes/);
  });
});
