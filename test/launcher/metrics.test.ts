// The launcher's per-VM metrics against real QEMU (TCG) and the fixture guest: GET /metrics
// on the control port, scraped as Prometheus would (HTTPS, no client certificate), once right after QEMU starts
// the guest and again once the guest has booted and written its data disk.

import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLauncher, type LauncherHandle } from '../../launcher/main.js';
import { control, controlCredentials, type ControlCredentials } from './helpers/control.js';
import { buildGuest, requireQemu } from '../../harness/guest.js';
import { SerialLog } from './helpers/serial.js';
import { GUEST_ROOT_DISK, smallSpec, testVm } from './helpers/vm.js';

const BUILD_TIMEOUT_MS = 20 * 60_000;
/** Boot to `ready` takes ~12 s under TCG on two cores; leave room for a loaded CI machine. */
const BOOT_MS = 90_000;
const MiB = 2 ** 20;
const LABELS = 'namespace="test",vm="metrics"';

/** One scrape: series (name and labels, as printed) -> value, and the raw reply. */
interface Scrape {
  status: number;
  contentType: string;
  text: string;
  series: Map<string, number>;
}

/** GET /metrics over HTTPS without a client certificate, as a scraper does. */
async function scrape(baseUrl: string): Promise<Scrape> {
  const res = await control(baseUrl, 'GET', '/metrics', creds.anonymous);
  const { text } = res;
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    series.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return { status: res.status, contentType: res.contentType, text, series };
}

/** The value of one series; fails with the whole scrape when it is missing. */
function value(s: Scrape, series: string): number {
  const v = s.series.get(series);
  if (v === undefined) throw new Error(`no series ${series} in /metrics:\n${s.text}`);
  return v;
}

let work: string;
let guestImage: string;
let handle: LauncherHandle | undefined;
let serial: SerialLog;
let url: string;
let early: Scrape;
let creds: ControlCredentials;

beforeAll(async () => {
  await requireQemu();
  guestImage = await buildGuest();
  work = await mkdtemp(join(tmpdir(), 'kubevmm-metrics-'));
  const data = join(work, 'data.img');
  const file = await open(data, 'w');
  await file.truncate(8 * MiB);
  await file.close();
  creds = await controlCredentials(join(work, 'credentials'), { name: 'metrics', namespace: 'test' });
  const spec = smallSpec({
    cpu: { cores: 2 },
    memory: { guest: '192Mi' },
    devices: { graphics: 'none', balloon: true, rng: false, guestAgent: false },
    disks: [GUEST_ROOT_DISK, { name: 'data1', persistentVolumeClaim: { claimName: 'data1' } }],
  });
  handle = await startLauncher({
    vm: testVm('metrics', spec),
    accel: 'tcg',
    runtimeDir: await mkdtemp(join(work, 'run-')),
    disks: { root: guestImage, data1: data },
    control: { port: 0, host: '127.0.0.1', tls: creds.tls },
  });
  serial = new SerialLog(handle.serialLog);
  url = handle.controlUrl!;
  await handle.started;
  // Right after `cont`: the guest has not booted, so it has not written its data disk yet.
  early = await scrape(url);
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (handle) {
    await handle.stop({ reason: 'TestCleanup', message: 'test cleanup' });
    await handle.done;
  }
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe('GET /metrics on the control port', () => {
  let late: Scrape;

  beforeAll(async () => {
    await serial.waitFor(/KUBEVMM-GUEST wrote disk=data1 dev=vd[a-z]+/, BOOT_MS);
    late = await scrape(url);
  }, BOOT_MS);

  it('answers Prometheus text without a client certificate, and every source worked', () => {
    expect(early.status).toBe(200);
    expect(early.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(late.text).toContain('# TYPE kubevmm_vm_vcpu_seconds_total counter');
    expect(late.text).not.toContain('kubevmm_vm_metrics_source_failed');
  });

  it('reports the accelerator and the running state', () => {
    expect(value(late, `kubevmm_vm_info{accelerator="tcg",${LABELS}}`)).toBe(1);
    expect(value(late, `kubevmm_vm_state{state="running",${LABELS}}`)).toBe(1);
    expect(value(late, `kubevmm_vm_state{state="paused",${LABELS}}`)).toBe(0);
  });

  it('counts CPU time per vCPU thread, and it grows while the guest boots', () => {
    for (const vcpu of ['0', '1']) expect(late.series.has(`kubevmm_vm_vcpu_seconds_total{vcpu="${vcpu}",${LABELS}}`)).toBe(true);
    expect(late.series.has(`kubevmm_vm_vcpu_seconds_total{vcpu="2",${LABELS}}`)).toBe(false);
    const boot = (s: Scrape) => value(s, `kubevmm_vm_vcpu_seconds_total{vcpu="0",${LABELS}}`);
    expect(boot(late)).toBeGreaterThan(boot(early));
    // The vCPU threads are part of QEMU: the process used at least what they did.
    const vcpus = boot(late) + value(late, `kubevmm_vm_vcpu_seconds_total{vcpu="1",${LABELS}}`);
    expect(value(late, `kubevmm_vm_qemu_cpu_seconds_total{${LABELS}}`)).toBeGreaterThanOrEqual(vcpus);
  });

  it('reports the spec memory, an untouched balloon and QEMU resident memory', () => {
    expect(value(late, `kubevmm_vm_memory_bytes{${LABELS}}`)).toBe(192 * MiB);
    expect(value(late, `kubevmm_vm_balloon_bytes{${LABELS}}`)).toBe(192 * MiB);
    // QEMU itself plus the guest RAM the guest touched while booting.
    expect(value(late, `kubevmm_vm_qemu_resident_bytes{${LABELS}}`)).toBeGreaterThan(32 * MiB);
  });

  it('counts the boot disk reads and the data disk write the guest made', () => {
    const disk = (s: Scrape, name: string, family: string, op: string) => value(s, `kubevmm_vm_disk_${family}_total{disk="${name}",op="${op}",${LABELS}}`);
    // The firmware loads kernel and initramfs from the read-only boot disk.
    expect(disk(late, 'root', 'bytes', 'read')).toBeGreaterThan(MiB);
    expect(disk(late, 'root', 'bytes', 'write')).toBe(0);
    expect(disk(late, 'root', 'seconds', 'read')).toBeGreaterThan(0);
    // The guest writes one marker line with fsync to data1 after it booted.
    expect(disk(early, 'data1', 'bytes', 'write')).toBe(0);
    expect(disk(late, 'data1', 'bytes', 'write')).toBeGreaterThanOrEqual(512);
    expect(disk(late, 'data1', 'ops', 'write')).toBeGreaterThan(disk(early, 'data1', 'ops', 'write'));
    expect(disk(late, 'data1', 'ops', 'flush')).toBeGreaterThanOrEqual(1);
  });

  it('follows a pause and a resume', async () => {
    expect(await control(url, 'POST', '/pause', creds.operator)).toMatchObject({ status: 200, body: { state: 'paused' } });
    const paused = await scrape(url);
    expect(value(paused, `kubevmm_vm_state{state="paused",${LABELS}}`)).toBe(1);
    expect(value(paused, `kubevmm_vm_state{state="running",${LABELS}}`)).toBe(0);
    // A paused VM still reports its counters.
    expect(value(paused, `kubevmm_vm_disk_bytes_total{disk="data1",op="write",${LABELS}}`)).toBeGreaterThanOrEqual(512);
    expect(await control(url, 'POST', '/resume', creds.operator)).toMatchObject({ status: 200, body: { state: 'running' } });
    expect(value(await scrape(url), `kubevmm_vm_state{state="running",${LABELS}}`)).toBe(1);
  });
});
