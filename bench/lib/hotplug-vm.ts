// The VMs and the data file of the hotplug benchmark: one VM boots with the data file as a
// virtio disk, another boots without it and gets the same file hotplugged (as a local file or
// from an NBD export). Both run the fixture guest with the same user data, so the guest-side
// benchmark starts the same way whichever way the disk arrived.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open } from 'node:fs/promises';
import { join } from 'node:path';
import { LAYOUT } from '../../api/layout.js';
import { launcherVm, type LauncherVm } from '../../api/resolve.js';
import { DEFAULT_CONFIG } from '../../api/schema/config.js';
import type { VirtualMachine } from '../../api/schema/vm.js';
import { validateVm } from '../../api/validate.js';
import { startLauncher, type LauncherHandle, type LauncherOptions } from '../../launcher/main.js';
import { diskbenchSwitch, SerialCursor, type DiskbenchJob } from './hotplug-guest.js';

/** Serial prefix of the disks the guest benchmarks; the disk names below all start with it. */
export const BENCH_PREFIX = 'bench';
/** Serial prefix of the disks that are only attached and detached (latency cycles). */
export const PROBE_PREFIX = 'probe';
/** Name of the data disk in the boot-attached case. */
export const BOOT_DISK = 'bench-boot';

/** Guest shape: one vCPU leaves the other host core to QEMU's I/O and the NBD server. */
export const BENCH_SHAPE = { vcpus: 1, memory: '256Mi' } as const;

const BOOT_TIMEOUT_MS = 180_000;
const MiB = 2 ** 20;

/** Cloud-init user data: the diskbench watchers, and a safety net for a forgotten guest. */
function userData(jobs: readonly DiskbenchJob[]): string {
  return ['#cloud-config', diskbenchSwitch(BENCH_PREFIX, jobs), diskbenchSwitch(PROBE_PREFIX), '#kubevmm: poweroff-after=3600', ''].join('\n');
}

/** The VM spec: the fixture as a read-only root, the data disk when `bootDisk`, no NIC. */
function spec(jobs: readonly DiskbenchJob[], bootDisk: boolean): VirtualMachine['spec'] {
  return {
    cpu: { cores: BENCH_SHAPE.vcpus },
    memory: { guest: BENCH_SHAPE.memory },
    devices: { graphics: 'none', balloon: false, rng: false, guestAgent: false },
    interfaces: [],
    disks: [
      { name: 'root', readOnly: true, persistentVolumeClaim: { claimName: 'root' } },
      ...(bootDisk ? [{ name: BOOT_DISK, persistentVolumeClaim: { claimName: 'bench' } }] : []),
      { name: 'cloudinit', cloudInit: { userData: userData(jobs) } },
    ],
    terminationGracePeriodSeconds: 30,
  };
}

/** The resolved VM, as `kubevmm play` would give it to the launcher (TCG). */
export function hotplugBenchVm(name: string, jobs: readonly DiskbenchJob[], bootDisk: boolean): LauncherVm {
  const manifest = { apiVersion: 'kubevmm.io/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'bench' }, spec: spec(jobs, bootDisk) };
  const { value, issues } = validateVm(manifest);
  if (!value) throw new Error(`invalid bench VM ${name}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return launcherVm(value, undefined, { ...DEFAULT_CONFIG, accelerator: 'tcg', hotplugPorts: 2 });
}

/**
 * `<dir>/disk.img` of `mib` MiB, every byte written (random data): reads of holes would cost
 * the host nothing and flatter whichever case read more of them.
 */
export async function makeDataFile(dir: string, mib: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LAYOUT.diskImage);
  const file = await open(path, 'w');
  try {
    for (let i = 0; i < mib; i++) await file.write(randomBytes(MiB), 0, MiB, i * MiB);
    await file.sync();
  } finally {
    await file.close();
  }
  return path;
}

/** A running bench VM and a cursor over its serial console. */
export interface BenchVm {
  handle: LauncherHandle;
  serial: SerialCursor;
}

/** What {@link startBenchVm} needs. */
export interface BenchVmOptions {
  vm: LauncherVm;
  image: string;
  /** Parent of the runtime directory. */
  work: string;
  /** Disk name -> path besides the root disk. */
  disks?: Record<string, string>;
  /** Extra launcher options (the NBD client's key). */
  extra?: Partial<LauncherOptions>;
}

/** Start the VM with the launcher in this process and wait for the guest's `ready`. */
export async function startBenchVm(options: BenchVmOptions): Promise<BenchVm> {
  const runtimeDir = await mkdtemp(join(options.work, `${options.vm.name}-`));
  const handle = await startLauncher({
    vm: options.vm,
    accel: 'tcg',
    runtimeDir,
    ...options.extra,
    disks: { root: options.image, ...options.disks },
  });
  const serial = new SerialCursor(handle.serialLog, handle.done);
  try {
    await handle.started;
    await serial.waitFor(/KUBEVMM-GUEST ready/, BOOT_TIMEOUT_MS);
  } catch (err) {
    await stopBenchVm({ handle, serial });
    throw err;
  }
  return { handle, serial };
}

/** ACPI shutdown (the guest powers off at once), then wait for the launcher to finish. */
export async function stopBenchVm(vm: BenchVm): Promise<void> {
  await vm.handle.stop({ reason: 'BenchDone', message: 'benchmark finished' }).catch(() => undefined);
  await vm.handle.done;
}
