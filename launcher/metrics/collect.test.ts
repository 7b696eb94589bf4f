import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectQmp, type QmpClient } from '../qmp/index.js';
import { FakeQmpServer, type CommandHandler } from '../../test/fakes/qmp-server.js';
import type { VmPhase } from '../runtime/state.js';
import { collectSnapshot, type VmMetricsSource } from './collect.js';
import { vmMetricsReport } from '../../api/contract/control.js';
import { vmMetrics } from './index.js';
import { SCSI_VM, VIRTIO_VM } from '../../test/fakes/qmp-metrics-data.js';

let dir: string;
let server: FakeQmpServer;
let qmp: QmpClient;

/** Answers with the recorded replies of VIRTIO_VM. */
const recorded: CommandHandler = (command, connection) => {
  const replies: Record<string, unknown> = {
    'query-cpus-fast': VIRTIO_VM.cpusFast,
    'query-memory-size-summary': VIRTIO_VM.memorySizeSummary,
    'query-balloon': VIRTIO_VM.balloon,
    'query-blockstats': VIRTIO_VM.blockstats,
  };
  if (command.execute in replies) connection.reply(command, replies[command.execute]);
  else connection.fail(command, 'CommandNotFound', `The command ${command.execute} has not been found`);
};

/** The recorded /proc files of VIRTIO_VM; anything else does not exist. */
async function recordedProc(path: string): Promise<string> {
  const pid = VIRTIO_VM.pid;
  const files: Record<string, string> = {
    [`/proc/${pid}/stat`]: VIRTIO_VM.stat,
    [`/proc/${pid}/status`]: VIRTIO_VM.status,
    [`/proc/${pid}/task/2955/stat`]: VIRTIO_VM.vcpuStats[0],
    [`/proc/${pid}/task/2956/stat`]: VIRTIO_VM.vcpuStats[1],
  };
  const text = files[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
  return text;
}

function source(over: Partial<VmMetricsSource> & { state?: VmPhase; balloon?: boolean } = {}): VmMetricsSource {
  return {
    vm: { name: 'web', namespace: 'prod', devices: { balloon: over.balloon ?? true } },
    status: () => ({ state: over.state ?? 'running', accelerator: 'tcg' }),
    qmp: () => qmp,
    pid: () => VIRTIO_VM.pid,
    ...over,
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubevmm-metrics-'));
  server = await FakeQmpServer.start({ path: join(dir, 'qmp.sock'), onCommand: recorded });
  qmp = await connectQmp(join(dir, 'qmp.sock'), { retryUntilMs: 2000 });
});

afterEach(async () => {
  await qmp.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

test('collects every family from recorded QMP replies and /proc files', async () => {
  const snapshot = await collectSnapshot(source(), { readText: recordedProc });
  expect(snapshot).toEqual({
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
    balloonBytes: 192 * 2 ** 20,
    disks: [expect.objectContaining({ disk: 'root', readBytes: 16252416 }), expect.objectContaining({ disk: 'data1', writeBytes: 4096 })],
    failed: [],
  });
});

test('a query QEMU does not answer in time leaves only its family out', async () => {
  server.onCommand = (command, connection) => {
    if (command.execute !== 'query-blockstats') recorded(command, connection); // never answered
  };
  const snapshot = await collectSnapshot(source(), { readText: recordedProc, queryTimeoutMs: 200 });
  expect(snapshot.disks).toBeUndefined();
  expect(snapshot.failed).toEqual(['query-blockstats']);
  expect(snapshot.vcpuSeconds).toHaveLength(2);
  expect(snapshot.guestMemoryBytes).toBe(192 * 2 ** 20);
});

test('an error reply or an unreadable thread drops that family and names the source', async () => {
  server.onCommand = (command, connection) => {
    if (command.execute === 'query-balloon') connection.fail(command, SCSI_VM.balloonError.class, SCSI_VM.balloonError.desc);
    else recorded(command, connection);
  };
  const vcpuGone = (path: string) => (path.includes('/task/2956/') ? Promise.reject(new Error('ENOENT')) : recordedProc(path));
  const snapshot = await collectSnapshot(source(), { readText: vcpuGone });
  expect(snapshot.failed).toEqual(['query-balloon', 'query-cpus-fast']);
  expect(snapshot).not.toHaveProperty('balloonBytes');
  expect(snapshot).not.toHaveProperty('vcpuSeconds');
  expect(snapshot.disks).toHaveLength(2);
});

test('a VM without a balloon device is not asked for one', async () => {
  const snapshot = await collectSnapshot(source({ balloon: false }), { readText: recordedProc });
  expect(snapshot.failed).toEqual([]);
  expect(snapshot).not.toHaveProperty('balloonBytes');
  expect(server.commands.map((c) => c.execute)).not.toContain('query-balloon');
});

test('before QMP is connected and without a pid only the state and accelerator are known', async () => {
  const snapshot = await collectSnapshot(source({ state: 'starting', qmp: () => undefined, pid: () => undefined }), { readText: recordedProc });
  expect(snapshot).toEqual({ vm: { name: 'web', namespace: 'prod' }, state: 'starting', accelerator: 'tcg', failed: [] });
});

test('vmMetrics renders the supervisor VM and stops reading /proc once QEMU has ended', async () => {
  let state: VmPhase = 'running';
  const supervisor = { status: () => ({ state, accelerator: 'tcg' as const, startedAt: '', disks: [] }), monitor: qmp, pid: VIRTIO_VM.pid };
  const metrics = vmMetrics(supervisor, { name: 'web', namespace: 'prod', devices: { balloon: true, rng: false, graphics: 'none', guestAgent: false } }, { readText: recordedProc });
  let { body } = await metrics.render();
  expect(body).toContain('kubevmm_vm_vcpu_seconds_total{vcpu="1",namespace="prod",vm="web"} 2.2');
  expect(body).toContain('kubevmm_vm_disk_bytes_total{disk="data1",op="write",namespace="prod",vm="web"} 4096');
  state = 'succeeded';
  ({ body } = await metrics.render());
  expect(body).toContain('kubevmm_vm_state{state="succeeded",namespace="prod",vm="web"} 1');
  expect(body).not.toContain('kubevmm_vm_qemu_resident_bytes');
  expect(body).not.toContain('kubevmm_vm_vcpu_seconds_total');
});

test('vmMetrics reports the same collection as JSON, as GET /vm-metrics answers it', async () => {
  const supervisor = { status: () => ({ state: 'running' as const, accelerator: 'tcg' as const, startedAt: '', disks: [] }), monitor: qmp, pid: VIRTIO_VM.pid };
  const metrics = vmMetrics(supervisor, { name: 'web', namespace: 'prod', devices: { balloon: true, rng: false, graphics: 'vnc', guestAgent: false } }, { readText: recordedProc });
  const report = vmMetricsReport.parse(await metrics.report());
  expect(report).toMatchObject({
    state: 'running',
    cpu: { qemuSeconds: 8.13, vcpus: [{ vcpu: 0, seconds: 4.73 }, { vcpu: 1, seconds: 2.2 }] },
    memory: { guestBytes: 192 * 2 ** 20, residentBytes: 208556 * 1024, balloonBytes: 192 * 2 ** 20 },
    disks: [expect.objectContaining({ name: 'root', readBytes: 16252416 }), expect.objectContaining({ name: 'data1', writeBytes: 4096 })],
    failed: [],
  });
  expect(Date.parse(report.time)).not.toBeNaN();
});
