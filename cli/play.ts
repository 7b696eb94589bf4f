/**
 * `kubevmm play FILE [--disk NAME=PATH]... [--accel kvm|tcg|auto] [--watch]`: runs a VM locally
 * through the launcher, with no cluster. The serial console is on the terminal: Ctrl-] detaches
 * it, Ctrl-C asks the guest to shut down, a second Ctrl-C stops it at once. QEMU never outlives
 * play, even a killed one. Exit code 0 when the guest powered off. With --watch,
 * edits of FILE apply live where they can (cli/watch.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { formatIssue } from '../api/issues.js';
import { launcherVm, type LauncherVm } from '../api/resolve.js';
import { DEFAULT_CONFIG, type AcceleratorChoice } from '../api/schema/config.js';
import type { VirtualMachineClass } from '../api/schema/class.js';
import type { VirtualMachine } from '../api/schema/vm.js';
import { validateDocuments } from '../api/validate.js';
import { startLauncher, type LauncherHandle } from '../launcher/main.js';
import { parseDiskMappings } from '../launcher/runtime/diskpaths.js';
import { freePort } from '../launcher/runtime/ports.js';
import { parseManifests, type LoadedDocument } from './load.js';
import { watchManifest, type ManifestWatch } from './watch.js';
import type { Timeline } from './timings.js';
import { appliedAtStart } from './watch-plan.js';
import { bridgeTerminal, CONSOLE_ESCAPE, enterRawMode, type RawMode } from './terminal.js';

const CTRL_C = 0x03;

/** Options of `kubevmm play`. */
export interface PlayOptions {
  disks: string[];
  accel: AcceleratorChoice;
  /** Which VM of the file, when it holds several. */
  name?: string;
  /** Watch this manifest file (the one played) and apply its edits while the VM runs. */
  watchFile?: string;
  /** Record milestones and print them at the end (--timings). */
  timeline?: Timeline;
}

/** A problem with the input, found before anything runs. */
export class PlayInputError extends Error {
  readonly reason = 'InvalidInput';
}

/**
 * The one VM to play, resolved against a class in the same input, as the launcher wants it.
 * Spare PCIe ports for hotplug only with --watch: without it nothing can be attached later, and
 * every empty root port is one more device for the firmware and the guest kernel to probe.
 */
export function selectVm(docs: readonly LoadedDocument[], opts: Pick<PlayOptions, 'accel' | 'name' | 'watchFile'>): LauncherVm {
  const results = validateDocuments(docs.map((d) => d.value));
  const errors = results.flatMap((r) => r.issues.map(formatIssue));
  if (errors.length) throw new PlayInputError(errors.join('\n'));
  const values = results.map((r) => r.value);
  const vms = values.filter((v): v is VirtualMachine => v?.kind === 'VirtualMachine' && (!opts.name || v.metadata.name === opts.name));
  if (vms.length !== 1) {
    const which = opts.name ? `named "${opts.name}"` : '';
    throw new PlayInputError(vms.length ? `the input holds ${vms.length} VirtualMachines; choose one with --name` : `no VirtualMachine ${which} in the input`);
  }
  const vm = vms[0] as VirtualMachine;
  const cls = values.find((v): v is VirtualMachineClass => v?.kind === 'VirtualMachineClass' && v.metadata.name === vm.spec.className);
  if (vm.spec.className && !cls) throw new PlayInputError(`spec.className: class "${vm.spec.className}" is not in the input; add its manifest to the file`);
  return launcherVm(vm, cls, { ...DEFAULT_CONFIG, accelerator: opts.accel, hotplugPorts: opts.watchFile ? DEFAULT_CONFIG.hotplugPorts : 0 });
}

/** Local ports for the guest's declared ports (privileged and busy ports are not assumed free). */
async function hostPorts(vm: LauncherVm): Promise<Record<string, number>> {
  const ports: Record<string, number> = {};
  for (const port of vm.interfaces.filter((i) => i.binding === 'masquerade').flatMap((i) => i.ports)) {
    ports[`${port.protocol}/${port.port}`] = await freePort();
  }
  return ports;
}

/** The terminal's raw mode while the console holds it (restored on any exit too: cli/terminal.ts). */
let rawMode: RawMode | undefined;

/**
 * Keys from the terminal: Ctrl-C means "shut down" (in raw mode the terminal sends it as a
 * byte, not a signal); everything else goes to the guest. stdin ending does not end the console.
 */
function keyboard(onInterrupt: () => void): PassThrough {
  const keys = new PassThrough();
  const stdin = process.stdin;
  rawMode = enterRawMode(stdin);
  stdin.on('data', (chunk: Buffer) => {
    if (chunk.includes(CTRL_C)) onInterrupt();
    const rest = Buffer.from(chunk.filter((b) => b !== CTRL_C));
    if (rest.length) keys.write(rest);
  });
  stdin.resume();
  return keys;
}

function restoreTerminal(): void {
  rawMode?.restore();
  process.stdin.pause();
}

async function runConsole(handle: LauncherHandle, interrupt: () => void): Promise<void> {
  const tty = Boolean(process.stdin.isTTY);
  const serial = createConnection(handle.serialSocket);
  const how = await bridgeTerminal({ stream: serial, input: keyboard(interrupt), output: process.stdout, escape: tty ? CONSOLE_ESCAPE : null });
  if (how === 'detached') {
    restoreTerminal();
    process.stderr.write('\r\nkubevmm: console detached; the VM keeps running. Ctrl-C shuts it down.\n');
  }
}

/**
 * The `--disk` files to start with, and those kept for later: with --watch a name the spec
 * does not have yet may be hotplugged once the file gains it; without, it is a typo that the
 * launcher refuses.
 */
export function splitDiskPaths(vm: LauncherVm, paths: Readonly<Record<string, string>>, watching: boolean): { now: Record<string, string>; later: string[] } {
  if (!watching) return { now: { ...paths }, later: [] };
  const names = new Set(vm.disks.map((d) => d.name));
  const now = Object.fromEntries(Object.entries(paths).filter(([name]) => names.has(name)));
  return { now, later: Object.keys(paths).filter((name) => !names.has(name)) };
}

/** Messages while the console may hold the terminal in raw mode, where "\n" alone does not return the carriage. */
function consoleLine(line: string): void {
  process.stderr.write(process.stdin.isTTY ? `\r\nkubevmm: ${line}\r\n` : `kubevmm: ${line}\n`);
}

function startWatch(handle: LauncherHandle, vm: LauncherVm, paths: Readonly<Record<string, string>>, opts: PlayOptions & { watchFile: string }): ManifestWatch {
  const file = opts.watchFile;
  consoleLine(`watching ${file}: hotpluggable disks and paused apply live; other changes need a restart`);
  return watchManifest({
    file,
    load: (text) => selectVm(parseManifests(text, file), opts),
    vm: handle,
    applied: appliedAtStart(vm, paths),
    paths,
    log: consoleLine,
  });
}

/** Runs the VM to its end; returns the process exit code. */
export async function play(vm: LauncherVm, opts: PlayOptions): Promise<number> {
  const log = (line: string) => process.stderr.write(`kubevmm: ${line}\n`);
  const paths = parseDiskMappings(opts.disks);
  const { now: disks, later } = splitDiskPaths(vm, paths, Boolean(opts.watchFile));
  for (const name of later) log(`--disk ${name}: ${opts.watchFile} has no disk ${name} yet; it is attached when a hotpluggable disk ${name} is added`);
  const ports = await hostPorts(vm);
  const runtimeDir = await mkdtemp(join(tmpdir(), `kubevmm-${vm.name.slice(0, 20)}-`));
  let handle: LauncherHandle;
  try {
    // dieWithParent: QEMU must not outlive a play that is killed (kill -9 leaves no guest behind).
    const onPhase = (phase: 'disks' | 'spawned') => opts.timeline?.mark(phase === 'disks' ? 'disks ready (cidata ISO written)' : 'QEMU spawned');
    handle = await startLauncher({ vm, disks, accel: opts.accel, runtimeDir, hostPorts: ports, log, onPhase, dieWithParent: true });
  } catch (err) {
    await rm(runtimeDir, { recursive: true, force: true });
    throw err;
  }
  for (const [guest, host] of Object.entries(ports)) log(`guest port ${guest} is forwarded from port ${host} of this machine`);
  let stopping = false;
  let watcher: ManifestWatch | undefined;
  const interrupt = () => {
    if (stopping) {
      consoleLine('stopping now without waiting for the guest (second Ctrl-C)');
      void handle.stop({ reason: 'Interrupted', message: 'second Ctrl-C in kubevmm play', force: true });
      return;
    }
    stopping = true;
    watcher?.close();
    consoleLine(`shutting down the guest (ACPI); it is stopped when the grace period (${vm.terminationGracePeriodSeconds}s) ends. Ctrl-C again stops it now`);
    void handle.stop({ reason: 'Interrupted', message: 'Ctrl-C in kubevmm play' });
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const started = await handle.started.then(() => true).catch(() => false);
  opts.timeline?.mark('guest running (QMP cont answered)');
  const watchFile = opts.watchFile;
  if (started && watchFile && !stopping) watcher = startWatch(handle, vm, paths, { ...opts, watchFile });
  void runConsole(handle, interrupt).catch((err: unknown) => log(`console: ${String(err)}`));
  const result = await handle.done;
  opts.timeline?.mark('QEMU exited, launcher done');
  watcher?.close();
  restoreTerminal();
  process.off('SIGINT', interrupt);
  process.off('SIGTERM', interrupt);
  if (result.exitCode === 0) await rm(runtimeDir, { recursive: true, force: true });
  else log(`serial log and QEMU files kept in ${runtimeDir}`);
  opts.timeline?.mark('cleaned up');
  opts.timeline?.lines().forEach(log);
  return result.exitCode;
}
