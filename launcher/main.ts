// The launcher: `launcher run` starts and supervises one VM (in a launcher pod, or for
// `kubevmm play`), serves the control API and exits with the VM; `launcher console` attaches
// a terminal to the VM's serial console; `launcher import` is the importer pod's process
// and `launcher serve-source` the source pod's, for a copy between namespaces
// (launcher/import). `startLauncher` / `runLauncher` are the same thing
// as a library, for the CLI's play command.

import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { LAYOUT, NBD_EXPORT } from '../api/layout.js';
import { describeIssues } from '../api/contract/control.js';
import { launcherVm, type LauncherVm } from '../api/contract/launcher-vm.js';
import { startControlServer, type ControlServer, type ControlTlsFiles } from './control/index.js';
import { controlSources } from './control-sources.js';
import { exportCommand, type ExportFlags } from './export/index.js';
import { IMPORT_DEFAULTS, importCommand, type ImportFlags } from './import/index.js';
import { SERVE_SOURCE_DEFAULTS, serveSourceCommand, type ServeSourceFlags } from './import/serve-source.js';
import { PROGRAMS } from './programs.js';
import { RUNTIME_FILES } from './qemu/index.js';
import type { AcceleratorChoice } from './runtime/accel.js';
import { attachConsole } from './runtime/console.js';
import { parseDiskMappings, parseDiskSizes } from './runtime/diskpaths.js';
import { LauncherError, describeError, reasonOf } from './runtime/errors.js';
import { launchVm, type LaunchOptions } from './runtime/launch.js';
import { outcomeLine, type RunOutcome } from './runtime/outcome.js';
import type { AttachRequest, DiskStatus, StopRequest, LauncherStatus } from './runtime/status.js';

export { TCG_NOTICE } from './runtime/launch.js';
export { attachConsole } from './runtime/console.js';
export type { AttachRequest, DiskStatus, StopRequest, LauncherStatus, RunOutcome };

/** Default file the kubelet reads the termination message from. */
export const TERMINATION_LOG = '/dev/termination-log';

/** Options of {@link startLauncher}: the VM, its disks, and optionally the control API. */
export interface LauncherOptions extends LaunchOptions {
  /** Serve the control API over mutual TLS; omitted: none (play drives the VM through the handle). */
  control?: { port: number; host?: string; tls: ControlTlsFiles };
  /** Write the one-line reason here when the VM ends (pods); omitted: not written. */
  terminationLog?: string;
  /** Stop the VM gracefully on SIGTERM/SIGINT (a pod's deletion, Ctrl-C). Default false. */
  handleSignals?: boolean;
}

/** How a launcher run ended. */
export interface LauncherResult {
  exitCode: number;
  /** One line: `Reason: message`. */
  reason: string;
  outcome?: RunOutcome;
}

/** A running VM, for the caller that started it. */
export interface LauncherHandle {
  status(): LauncherStatus;
  pause(): Promise<void>;
  resume(): Promise<void>;
  reset(): Promise<void>;
  /** Graceful stop; resolves with the outcome once QEMU has exited. */
  stop(request?: StopRequest): Promise<RunOutcome>;
  attach(request: AttachRequest): Promise<DiskStatus>;
  detach(name: string): Promise<void>;
  /** Unix socket of the serial console (see attachConsole). */
  serialSocket: string;
  /** Everything the guest wrote to the serial console. */
  serialLog: string;
  /** QEMU's pid. */
  pid?: number;
  /** Base URL of the control API, when served. */
  controlUrl?: string;
  /** Resolves when the guest runs (or is held paused); rejects when QEMU failed to start. */
  started: Promise<void>;
  /** Resolves once when everything has ended. Never rejects. */
  done: Promise<LauncherResult>;
}

function failureResult(err: unknown): LauncherResult {
  return { exitCode: 1, reason: outcomeLine({ reason: reasonOf(err, 'LauncherFailed'), message: describeError(err) }) };
}

async function report(result: LauncherResult, terminationLog: string | undefined, log: (l: string) => void): Promise<void> {
  log(result.reason);
  if (!terminationLog) return;
  await writeFile(terminationLog, `${result.reason}\n`).catch((err) => log(`cannot write ${terminationLog}: ${describeError(err)}`));
}

function onSignals(stop: (signal: string) => void): () => void {
  const handler = (signal: NodeJS.Signals): void => stop(signal);
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}

/**
 * Start the VM (and the control API). Rejects, with nothing left running, when the inputs
 * are wrong (a missing disk, kvm unavailable, ...); after that, every ending is in `done`.
 */
export async function startLauncher(options: LauncherOptions): Promise<LauncherHandle> {
  const log = options.log ?? (() => undefined);
  const vmm = await launchVm(options);
  let control: ControlServer | undefined;
  try {
    if (options.control) control = await startControlServer({ vmm, ...controlSources(vmm, options.vm, log), log, ...options.control });
  } catch (err) {
    await vmm.stop({ reason: 'ControlServerFailed', message: describeError(err) });
    throw new LauncherError({ reason: 'ControlServerFailed', message: `control API on port ${options.control?.port}: ${describeError(err)}`, cause: err });
  }
  const release = options.handleSignals ? onSignals((signal) => void vmm.stop({ reason: 'SignalReceived', message: `${signal} received` })) : () => undefined;
  const done = vmm.done.then(async (outcome) => {
    release();
    await control?.close();
    const result = { exitCode: outcome.exitCode, reason: outcomeLine(outcome), outcome };
    await report(result, options.terminationLog, log);
    return result;
  });
  return {
    status: () => vmm.status(),
    pause: () => vmm.pause(),
    resume: () => vmm.resume(),
    reset: () => vmm.reset(),
    stop: (request) => vmm.stop(request),
    attach: (request) => vmm.attachDisk(request),
    detach: (name) => vmm.detachDisk(name),
    serialSocket: vmm.serialSocket,
    serialLog: vmm.serialLog,
    pid: vmm.pid,
    ...(control ? { controlUrl: control.url } : {}),
    started: vmm.started,
    done,
  };
}

/** Run the VM to its end. Never rejects: start-up errors are a result with exit code 1. */
export async function runLauncher(options: LauncherOptions): Promise<LauncherResult> {
  try {
    return await (await startLauncher(options)).done;
  } catch (err) {
    const result = failureResult(err);
    await report(result, options.terminationLog, options.log ?? (() => undefined));
    return result;
  }
}

/** Read the VM description (the operator's `kubevmm.io/vm` annotation, as JSON). */
export async function readVmFile(path: string): Promise<LauncherVm> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new LauncherError({ reason: 'InvalidVmFile', kind: 'invalid', message: `cannot read the vm description ${path}: ${describeError(err)}` });
  }
  // Held to the contract before anything in it reaches QEMU's command line or a file path:
  // the annotation is editable on the pod, so it is input like any other.
  const parsed = launcherVm.safeParse(raw);
  if (!parsed.success) {
    throw new LauncherError({ reason: 'InvalidVmFile', kind: 'invalid', message: `${path} is not a resolved vm as the operator writes it (the kubevmm.io/vm annotation): ${describeIssues(parsed.error)}` });
  }
  return parsed.data;
}

const stderrLog = (line: string): void => void process.stderr.write(`kubevmm: ${line}\n`);

interface RunFlags {
  vm: string;
  disk: string[];
  diskSize: string[];
  accel?: AcceleratorChoice;
  controlPort?: string;
  controlHost?: string;
  tlsCert: string;
  tlsKey: string;
  clientCa: string;
  runtimeDir: string;
  terminationLog: string;
  qemu?: string;
  pskFile: string;
  nbdReconnectDelay?: string;
  nbdOpenTimeout?: string;
}

/** NBD client settings from the flags: whole seconds, and a key file named as QEMU reads it. */
function nbdFromFlags(flags: RunFlags): Pick<LauncherOptions, 'pskFile' | 'nbd'> {
  if (basename(flags.pskFile) !== 'keys.psk') {
    throw new LauncherError({ reason: 'InvalidArgument', kind: 'invalid', message: `--psk-file ${flags.pskFile}: QEMU reads keys.psk in a directory; name the file keys.psk` });
  }
  const seconds = (flag: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value) || Number(value) > 3600) throw new LauncherError({ reason: 'InvalidArgument', kind: 'invalid', message: `${flag} ${value}: give whole seconds from 0 to 3600` });
    return Number(value);
  };
  const reconnectDelaySeconds = seconds('--nbd-reconnect-delay', flags.nbdReconnectDelay);
  const openTimeoutSeconds = seconds('--nbd-open-timeout', flags.nbdOpenTimeout);
  return {
    pskFile: flags.pskFile,
    nbd: { ...(reconnectDelaySeconds === undefined ? {} : { reconnectDelaySeconds }), ...(openTimeoutSeconds === undefined ? {} : { openTimeoutSeconds }) },
  };
}

/** The control API settings from the flags; none without --control-port. */
function controlFromFlags(flags: RunFlags): LauncherOptions['control'] {
  if (flags.controlPort === undefined) return undefined;
  const port = Number(flags.controlPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new LauncherError({ reason: 'InvalidArgument', kind: 'invalid', message: `--control-port ${flags.controlPort}: not a port number` });
  }
  return { port, host: flags.controlHost, tls: { certFile: flags.tlsCert, keyFile: flags.tlsKey, clientCaFile: flags.clientCa } };
}

async function optionsFromFlags(flags: RunFlags): Promise<LauncherOptions> {
  const control = controlFromFlags(flags);
  return {
    vm: await readVmFile(flags.vm),
    ...(flags.disk.length ? { disks: parseDiskMappings(flags.disk) } : {}),
    ...(flags.diskSize.length ? { blankSizes: parseDiskSizes(flags.diskSize) } : {}),
    ...(flags.accel ? { accel: flags.accel } : {}),
    ...(control ? { control } : {}),
    ...nbdFromFlags(flags),
    runtimeDir: flags.runtimeDir,
    qemuBinary: flags.qemu,
    terminationLog: flags.terminationLog,
    handleSignals: true,
    stderrSink: process.stderr,
    log: stderrLog,
  };
}

async function runCommand(flags: RunFlags): Promise<number> {
  let options: LauncherOptions;
  try {
    options = await optionsFromFlags(flags);
  } catch (err) {
    const result = failureResult(err);
    await report(result, flags.terminationLog, stderrLog);
    return result.exitCode;
  }
  return (await runLauncher(options)).exitCode;
}

function program(setExit: (code: number) => void): Command {
  const cli = new Command('launcher').description('kubevmm launcher: runs one virtual machine in QEMU').exitOverride();
  cli
    .command('run')
    .description('start the VM, serve the control API and exit when the VM ends')
    .requiredOption('--vm <file>', 'resolved VM description (JSON)', LAYOUT.vmFile)
    .option('--disk <name=path>', 'local image or block device for a disk (repeatable); default: the pod layout', (v: string, acc: string[]) => [...acc, v], [])
    .option('--disk-size <name=bytes>', 'create disk.img of this size when a Filesystem PVC holds none (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .addOption(new Option('--accel <accel>', 'accelerator (default: the VM description)').choices(['kvm', 'tcg', 'auto']))
    .option('--control-port <port>', 'serve the control API on this port')
    .option('--control-host <host>', 'address for the control API (default: all)')
    .option('--tls-cert <file>', 'the control API\'s certificate (PEM), issued for this VM by the operator\'s launcher CA', LAYOUT.tlsCertFile)
    .option('--tls-key <file>', 'key of --tls-cert', LAYOUT.tlsKeyFile)
    .option('--client-ca <file>', 'CA whose client certificates the control API accepts (mutual TLS)', LAYOUT.clientCaFile)
    .option('--runtime-dir <dir>', 'sockets, logs, cidata ISO, EFI vars', LAYOUT.runtimeDir)
    .option('--termination-log <file>', 'where the one-line exit reason goes', TERMINATION_LOG)
    .option('--qemu <binary>', 'QEMU binary', PROGRAMS.qemu)
    .option('--psk-file <file>', 'TLS-PSK key (keys.psk) for disks hotplugged over NBD', LAYOUT.pskFile)
    .option('--nbd-reconnect-delay <seconds>', 'how long NBD disk requests wait for a lost export before failing (default 10)')
    .option('--nbd-open-timeout <seconds>', 'how long attaching an NBD disk keeps trying to connect (default 10)')
    .action(async (flags: RunFlags) => setExit(await runCommand(flags)));
  cli
    .command('export')
    .description('attachment pod: serve a PVC over NBD with TLS-PSK to the VM launcher (qemu-storage-daemon)')
    .option('--source <path>', 'directory holding disk.img (--mode filesystem) or block device (--mode block)')
    .option('--mode <mode>', 'filesystem or block')
    .option('--size <bytes>', 'filesystem mode: size of disk.img to create when absent (bytes or e.g. 10Gi)')
    .option('--port <port>', `NBD port (default ${NBD_EXPORT.port})`)
    .option('--address <host>', 'listen address (default 0.0.0.0)')
    .option('--psk-dir <dir>', 'directory holding keys.psk', NBD_EXPORT.pskDir)
    .option('--read-only', 'export read-only')
    .action(async (flags: ExportFlags) => setExit(await exportCommand(flags, (line) => void process.stderr.write(`kubevmm export: ${line}\n`))));
  cli
    .command('import')
    .description('importer pod: import a disk image (http, upload, file, or a claim of another namespace from its source pod) onto the target claim, serving progress and uploads over mutual TLS')
    .option('--task <file>', 'the import task (JSON, the kubevmm.io/import annotation)', IMPORT_DEFAULTS.task)
    .option('--port <port>', 'port of the importer API (HTTPS, mutual TLS)', IMPORT_DEFAULTS.port)
    .option('--host <host>', 'address of the importer API (default: all)')
    .option('--credentials <dir>', 'directory holding tls.crt, tls.key and ca.crt (and client.crt, client.key for a claim source)', IMPORT_DEFAULTS.credentials)
    .option('--scratch <dir>', 'room for downloads, uploads and decompressed files', IMPORT_DEFAULTS.scratch)
    .option('--target-dir <dir>', 'Filesystem target: where disk.img goes', IMPORT_DEFAULTS.targetDir)
    .option('--target-device <path>', 'Block target: the device', IMPORT_DEFAULTS.targetDevice)
    .option('--termination-log <file>', 'where the result (JSON) or the failure (Reason: message) goes', TERMINATION_LOG)
    .option('--qemu-img <binary>', 'qemu-img binary')
    .option('--xz <binary>', 'xz binary')
    .action(async (flags: ImportFlags) => setExit(await importCommand(flags, (line) => void process.stderr.write(`kubevmm import: ${line}\n`))));
  cli
    .command('serve-source')
    .description('source pod: serve a claim\'s disk (GET with Range, HEAD) over mutual TLS to the importer of one image, for a copy into another namespace')
    .option('--task <file>', 'the source task (JSON, the kubevmm.io/source annotation)', SERVE_SOURCE_DEFAULTS.task)
    .option('--port <port>', 'port of the HTTPS server', SERVE_SOURCE_DEFAULTS.port)
    .option('--host <host>', 'address to listen on (default: all)')
    .option('--credentials <dir>', 'directory holding tls.crt, tls.key and ca.crt', SERVE_SOURCE_DEFAULTS.credentials)
    .option('--claim-dir <dir>', 'Filesystem claim: where its disk.img is', SERVE_SOURCE_DEFAULTS.claimDir)
    .option('--claim-device <path>', 'Block claim: the device', SERVE_SOURCE_DEFAULTS.claimDevice)
    .action(async (flags: ServeSourceFlags) => setExit(await serveSourceCommand(flags, (line) => void process.stderr.write(`kubevmm serve-source: ${line}\n`))));
  cli
    .command('console')
    .description('attach this terminal to the VM serial console (Ctrl-] detaches)')
    .option('--socket <path>', 'console socket of the launcher', join(LAYOUT.runtimeDir, RUNTIME_FILES.console))
    .action(async (flags: { socket: string }) => {
      process.stderr.write('kubevmm: connected to the serial console; Ctrl-] detaches\n');
      await attachConsole({ socket: flags.socket });
      setExit(0);
    });
  return cli;
}

/** The launcher command line; resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  try {
    await program((c) => (code = c)).parseAsync([...argv], { from: 'user' });
  } catch (err) {
    const exitCode = (err as { exitCode?: unknown }).exitCode;
    if (typeof exitCode === 'number') return exitCode; // commander already printed usage or help
    stderrLog(describeError(err));
    return 1;
  }
  return code;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exit(await main(process.argv.slice(2)));
}
