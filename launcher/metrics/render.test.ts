import { renderSnapshot, type VmSnapshot } from './render.js';

const VM = { name: 'web', namespace: 'prod' };

/** Sample lines of the exposition (no comments). */
async function samples(snapshot: VmSnapshot): Promise<string[]> {
  const { body } = await renderSnapshot(snapshot);
  return body.split('\n').filter((l) => l && !l.startsWith('#'));
}

test('a full snapshot renders every family with the vm and namespace labels', async () => {
  const { body, contentType } = await renderSnapshot({
    vm: VM,
    state: 'running',
    accelerator: 'kvm',
    vcpuSeconds: [
      { vcpu: 0, seconds: 4.73 },
      { vcpu: 1, seconds: 2.2 },
    ],
    qemuCpuSeconds: 8.13,
    qemuResidentBytes: 213561344,
    guestMemoryBytes: 201326592,
    balloonBytes: 134217728,
    disks: [{ disk: 'root', readBytes: 100, writeBytes: 0, readOps: 2, writeOps: 0, flushOps: 0, readSeconds: 0.5, writeSeconds: 0, flushSeconds: 0 }],
    failed: [],
  });
  expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  const lines = body.split('\n').filter((l) => l && !l.startsWith('#'));
  expect(lines).toEqual([
    'kubevmm_vm_info{accelerator="kvm",namespace="prod",vm="web"} 1',
    'kubevmm_vm_state{state="starting",namespace="prod",vm="web"} 0',
    'kubevmm_vm_state{state="running",namespace="prod",vm="web"} 1',
    'kubevmm_vm_state{state="paused",namespace="prod",vm="web"} 0',
    'kubevmm_vm_state{state="stopping",namespace="prod",vm="web"} 0',
    'kubevmm_vm_state{state="succeeded",namespace="prod",vm="web"} 0',
    'kubevmm_vm_state{state="failed",namespace="prod",vm="web"} 0',
    'kubevmm_vm_vcpu_seconds_total{vcpu="0",namespace="prod",vm="web"} 4.73',
    'kubevmm_vm_vcpu_seconds_total{vcpu="1",namespace="prod",vm="web"} 2.2',
    'kubevmm_vm_qemu_cpu_seconds_total{namespace="prod",vm="web"} 8.13',
    'kubevmm_vm_qemu_resident_bytes{namespace="prod",vm="web"} 213561344',
    'kubevmm_vm_memory_bytes{namespace="prod",vm="web"} 201326592',
    'kubevmm_vm_balloon_bytes{namespace="prod",vm="web"} 134217728',
    'kubevmm_vm_disk_bytes_total{disk="root",op="read",namespace="prod",vm="web"} 100',
    'kubevmm_vm_disk_bytes_total{disk="root",op="write",namespace="prod",vm="web"} 0',
    'kubevmm_vm_disk_ops_total{disk="root",op="read",namespace="prod",vm="web"} 2',
    'kubevmm_vm_disk_ops_total{disk="root",op="write",namespace="prod",vm="web"} 0',
    'kubevmm_vm_disk_ops_total{disk="root",op="flush",namespace="prod",vm="web"} 0',
    'kubevmm_vm_disk_seconds_total{disk="root",op="read",namespace="prod",vm="web"} 0.5',
    'kubevmm_vm_disk_seconds_total{disk="root",op="write",namespace="prod",vm="web"} 0',
    'kubevmm_vm_disk_seconds_total{disk="root",op="flush",namespace="prod",vm="web"} 0',
  ]);
  expect(body).toContain('# TYPE kubevmm_vm_vcpu_seconds_total counter');
  expect(body).toContain('# TYPE kubevmm_vm_memory_bytes gauge');
});

test('families whose source failed are absent, not zero, and the failed sources are named', async () => {
  const lines = await samples({ vm: VM, state: 'paused', accelerator: 'tcg', guestMemoryBytes: 1024, failed: ['proc', 'query-blockstats'] });
  expect(lines).toContain('kubevmm_vm_memory_bytes{namespace="prod",vm="web"} 1024');
  expect(lines).toContain('kubevmm_vm_state{state="paused",namespace="prod",vm="web"} 1');
  expect(lines).toContain('kubevmm_vm_metrics_source_failed{source="proc",namespace="prod",vm="web"} 1');
  expect(lines).toContain('kubevmm_vm_metrics_source_failed{source="query-blockstats",namespace="prod",vm="web"} 1');
  const { body } = await renderSnapshot({ vm: VM, state: 'paused', accelerator: 'tcg', failed: [] });
  for (const name of ['kubevmm_vm_vcpu_seconds_total', 'kubevmm_vm_qemu_resident_bytes', 'kubevmm_vm_balloon_bytes', 'kubevmm_vm_disk_bytes_total', 'kubevmm_vm_metrics_source_failed']) {
    expect(body).not.toContain(name);
  }
});

test('each scrape is rendered on its own registry: nothing leaks from the previous one', async () => {
  await samples({ vm: VM, state: 'running', accelerator: 'tcg', vcpuSeconds: [{ vcpu: 0, seconds: 9 }], failed: [] });
  const lines = await samples({ vm: { name: 'other', namespace: 'dev' }, state: 'running', accelerator: 'tcg', vcpuSeconds: [{ vcpu: 0, seconds: 1 }], failed: [] });
  expect(lines.filter((l) => l.startsWith('kubevmm_vm_vcpu_seconds_total'))).toEqual(['kubevmm_vm_vcpu_seconds_total{vcpu="0",namespace="dev",vm="other"} 1']);
});
