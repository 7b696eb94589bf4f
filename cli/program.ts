/**
 * The `kubevmm` command tree: offline validation and rendering, local VMs with `play`, and the
 * cluster verbs (start, stop, console, create vm, ...), also run as the kubectl plugin
 * `kubectl vm` (bin/kubectl-vm.js).
 *
 * Each verb imports its modules when it runs, so the bundle (scripts/bundle.ts, dist/cli)
 * splits them into chunks: `validate` never loads the launcher, the renderer or the
 * Kubernetes client. Exit codes are the CLI contract's (cli/exit.ts): 0 done, 1 failed (reason
 * printed), 2 usage error, 3 a cluster verb's wait ran out of --timeout.
 */
import { CommanderError, Command, Option } from 'commander';
import { configFromOptions, withConfigOptions } from '../operator/config.js';
import { addClusterVerbs } from './cluster/args.js';
import { EXIT } from './exit.js';
import type { PlayOptions } from './play.js';
import { Timeline } from './timings.js';

export { EXIT } from './exit.js';

/** The name kubectl runs a plugin by: `kubectl vm ...` executes `kubectl-vm ...`. */
export const PLUGIN_NAME = 'kubectl vm';

/** The program's name for usage and messages: `kubectl vm` when started as the kubectl-vm plugin. */
export function programNameOf(script: string | undefined): string {
  const base = (script ?? '').split(/[\\/]/).pop() ?? '';
  return /^kubectl-vm(\.[cm]?js)?$/.test(base) ? PLUGIN_NAME : 'kubevmm';
}

/** The command tree; actions load their verb's modules on demand. */
export function buildProgram(name = 'kubevmm'): Command {
  const program = new Command(name)
    .description('Run virtual machines on Kubernetes: check manifests, preview launcher pods, boot VMs locally, and start, stop, create and open the console of VMs in a cluster.')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('validate')
    .description('check VirtualMachine, VirtualMachineClass and VirtualMachineImage manifests with the same rules as the admission webhook')
    .argument('<files...>', 'YAML files (multi-document)')
    .action(async (files: string[]) => {
      const [{ loadManifests }, { validateReport }] = await Promise.all([import('./load.js'), import('./validate.js')]);
      const report = validateReport(await loadManifests(files));
      report.out.forEach((line) => console.log(line));
      report.err.forEach((line) => console.error(line));
      process.exitCode = report.ok ? EXIT.ok : EXIT.failed;
    });

  withConfigOptions(
    program
      .command('render')
      .description('print the launcher Pod the operator would create for each VirtualMachine in FILE')
      .argument('<file>', 'YAML file with VirtualMachines (and the classes they name)'),
  ).action(async (file: string, opts: Record<string, unknown>) => {
    const [{ loadManifests }, { renderReport }] = await Promise.all([import('./load.js'), import('./render.js')]);
    const report = renderReport(await loadManifests([file]), configFromOptions(opts));
    if (report.ok) process.stdout.write(report.yaml);
    else report.errors.forEach((line) => console.error(line));
    process.exitCode = report.ok ? EXIT.ok : EXIT.failed;
  });

  const collect = (value: string, previous: string[]) => [...previous, value];

  program
    .command('play')
    .description('run a VirtualMachine locally through the launcher (no cluster); its serial console is on this terminal')
    .argument('<file>', 'YAML file with the VirtualMachine (and the class it names)')
    .option('--disk <name=path>', 'local image file or block device for a disk (repeatable)', collect, [])
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['kvm', 'tcg', 'auto']).default('auto'))
    .option('--name <vm>', 'which VirtualMachine, when FILE holds several')
    .option('--watch', 'apply edits of FILE while the VM runs: hotpluggable disks are attached and detached, paused pauses and resumes; other changes are reported as needing a restart')
    .option('--timings', 'print where the time went at the end (ms since kubevmm started): CLI start, disks and cidata ISO, QEMU start, guest run, shutdown')
    .addHelpText('after', '\nCtrl-] detaches the console; Ctrl-C shuts the guest down gracefully.')
    .action(async (file: string, flags: { disk: string[]; accel: PlayOptions['accel']; name?: string; watch?: boolean; timings?: boolean }) => {
      const timeline = flags.timings ? new Timeline() : undefined;
      timeline?.mark('Node and the CLI loaded');
      const [{ loadManifests }, { play, selectVm }] = await Promise.all([import('./load.js'), import('./play.js')]);
      timeline?.mark('play and the launcher loaded');
      const opts: PlayOptions = { disks: flags.disk, accel: flags.accel, ...(flags.name ? { name: flags.name } : {}), ...(flags.watch ? { watchFile: file } : {}), ...(timeline ? { timeline } : {}) };
      const vm = selectVm(await loadManifests([file]), opts);
      timeline?.mark('manifest read and checked');
      process.exitCode = await play(vm, opts);
    });

  // The cluster verbs: parsing is here; cluster/run.ts loads the verb's runner (and the
  // Kubernetes client) only when one runs.
  addClusterVerbs(program, async (request) => {
    const { runVerb } = await import('./cluster/run.js');
    process.exitCode = await runVerb(request);
  });

  return program;
}

/**
 * The exit code for an error out of parsing or a verb: commander's usage errors are 2, help is
 * 0; a verb's error may carry its own (a wait that timed out: 3); anything else is 1.
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === 'number' && code > 0 ? code : EXIT.failed;
}

/** Runs the CLI on `argv` (process.argv's shape); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const name = programNameOf(argv[1]);
  try {
    await buildProgram(name).parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    // commander has printed its own message (and the help) for a usage error.
    if (!(err instanceof CommanderError)) console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    return exitCodeOf(err);
  }
}
