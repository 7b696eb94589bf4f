// From a VM description to a supervised QEMU: pick the accelerator, prepare the disks, plan
// the command line, spawn. Everything that can be wrong with the inputs fails here, before
// QEMU exists, with an error that names the fix.

import { mkdir } from 'node:fs/promises';
import type { LauncherVm } from '../../api/resolve.js';
import { planQemu } from '../qemu/index.js';
import { decideAccelerator, kvmUsable, KVM_DEVICE, type AcceleratorChoice } from './accel.js';
import { prepareDisks } from './disks.js';
import { podDiskLocations, unknownDiskMappings } from './diskpaths.js';
import { LauncherError, describeError } from './errors.js';
import type { NbdClientTiming } from '../qemu/nbd.js';
import type { SupervisorTiming } from './timing.js';
import { VmSupervisor } from './vmm.js';

/** The notice printed whenever the guest runs without KVM. */
export const TCG_NOTICE = 'accelerator tcg (software emulation): the guest runs much slower than with kvm';

/** Options of {@link launchVm}. */
export interface LaunchOptions {
  vm: LauncherVm;
  /**
   * Disk name -> local image file or block device (`--disk NAME=PATH`). When absent, the
   * launcher pod's layout (api/layout.ts) gives every path.
   */
  disks?: Readonly<Record<string, string>>;
  /** Disk name -> bytes of disk.img to create in a blank Filesystem PVC (`--disk-size`). */
  blankSizes?: Readonly<Record<string, number>>;
  /** Disk name -> directory with a cloud-init Secret's keys (pod layout when `disks` is absent). */
  secretDirs?: Readonly<Record<string, string>>;
  /** Overrides vm.accelerator (the operator's setting). */
  accel?: AcceleratorChoice;
  /** Writable directory for sockets, the serial log, the cidata ISO and EFI vars. */
  runtimeDir: string;
  qemuBinary?: string;
  kvmDevice?: string;
  /** `TCP/22` -> host port for masquerade forwards (play forwards to free local ports). */
  hostPorts?: Readonly<Record<string, number>>;
  ovmf?: { code: string; varsTemplate: string };
  timing?: Partial<SupervisorTiming>;
  /** keys.psk for disks attached from attachment pods (`--psk-file`); default LAYOUT.pskFile. */
  pskFile?: string;
  /** How NBD disks connect and reconnect (`--nbd-reconnect-delay`, `--nbd-open-timeout`). */
  nbd?: Partial<NbdClientTiming>;
  stderrSink?: NodeJS.WritableStream;
  /** QEMU ends when this process dies, even by SIGKILL (`kubevmm play`; needs util-linux's setpriv). */
  dieWithParent?: boolean;
  /** Progress and notices, one line each without a prefix. */
  log?: (line: string) => void;
  /** Called as start-up passes its steps: `disks` (prepared, cidata ISO written), `spawned` (QEMU). */
  onPhase?: (phase: 'disks' | 'spawned') => void;
}

async function diskLocations(options: LaunchOptions) {
  if (!options.disks) return podDiskLocations(options.vm);
  const unknown = unknownDiskMappings(options.vm, options.disks);
  if (unknown.length) {
    const names = options.vm.disks.map((d) => d.name).join(', ');
    throw new LauncherError({ reason: 'InvalidArgument', kind: 'invalid', message: `--disk ${unknown.join(', ')}: the vm has no such disk (its disks: ${names})` });
  }
  return { paths: { ...options.disks }, secretDirs: { ...options.secretDirs } };
}

/**
 * Prepare and start the VM. Resolves with the supervisor as soon as QEMU is spawned; await
 * `started` for the guest to run and `done` for the end. Hotpluggable disks that were given
 * a path are attached once the guest runs.
 */
export async function launchVm(options: LaunchOptions): Promise<VmSupervisor> {
  const { vm, log = () => undefined } = options;
  const accelerator = decideAccelerator(options.accel ?? vm.accelerator, await kvmUsable(options.kvmDevice ?? KVM_DEVICE));
  if (accelerator === 'tcg') log(TCG_NOTICE);
  await mkdir(options.runtimeDir, { recursive: true, mode: 0o700 });
  const { paths, secretDirs, mounted } = await diskLocations(options);
  const prepared = await prepareDisks({ vm, paths, secretDirs, runtimeDir: options.runtimeDir, ovmf: options.ovmf, ...(options.blankSizes ? { blankSizes: options.blankSizes } : {}), ...(mounted ? { mounted } : {}) });
  options.onPhase?.('disks');
  const plan = planQemu({
    vm,
    accel: accelerator,
    disks: prepared.backings,
    runtimeDir: options.runtimeDir,
    ...(prepared.firmware ? { firmware: prepared.firmware } : {}),
    ...(options.hostPorts ? { hostPorts: options.hostPorts } : {}),
  });
  const supervisor = VmSupervisor.start({ vm, plan, accelerator, qemuBinary: options.qemuBinary, stderrSink: options.stderrSink, timing: options.timing, nbd: { ...options.nbd, ...(options.pskFile ? { pskFile: options.pskFile } : {}) }, log, ...(options.dieWithParent ? { dieWithParent: true } : {}) });
  options.onPhase?.('spawned');
  const hotplugged = vm.disks.filter((d) => d.hotpluggable && paths[d.name]);
  if (hotplugged.length) {
    void supervisor.started
      .then(async () => {
        for (const disk of hotplugged) {
          await supervisor.attachDisk({ name: disk.name, path: paths[disk.name]!, bus: disk.bus === 'scsi' ? 'scsi' : 'virtio', readOnly: disk.readOnly, cache: disk.cache });
        }
      })
      .catch((err) => log(`attaching hotpluggable disks failed: ${describeError(err)}`));
  }
  return supervisor;
}
