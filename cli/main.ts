/** The `kubevmm` command: offline validation and rendering, and local VMs with `play`. */
import { Command, Option } from 'commander';
import { configFromOptions, withConfigOptions } from '../operator/config.js';
import { loadManifests } from './load.js';
import { play, selectVm, type PlayOptions } from './play.js';
import { renderReport } from './render.js';
import { validateReport } from './validate.js';

const program = new Command('kubevmm')
  .description('Run virtual machines on Kubernetes: check manifests, preview launcher pods, boot VMs locally.')
  .showHelpAfterError();

program
  .command('validate')
  .description('check VirtualMachine and VirtualMachineClass manifests with the same rules as the admission webhook')
  .argument('<files...>', 'YAML files (multi-document)')
  .action(async (files: string[]) => {
    const report = validateReport(await loadManifests(files));
    report.out.forEach((line) => console.log(line));
    report.err.forEach((line) => console.error(line));
    process.exitCode = report.ok ? 0 : 1;
  });

withConfigOptions(
  program
    .command('render')
    .description('print the launcher Pod the operator would create for each VirtualMachine in FILE')
    .argument('<file>', 'YAML file with VirtualMachines (and the classes they name)'),
).action(async (file: string, opts: Record<string, unknown>) => {
  const report = renderReport(await loadManifests([file]), configFromOptions(opts));
  if (report.ok) process.stdout.write(report.yaml);
  else report.errors.forEach((line) => console.error(line));
  process.exitCode = report.ok ? 0 : 1;
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
  .addHelpText('after', '\nCtrl-] detaches the console; Ctrl-C shuts the guest down gracefully.')
  .action(async (file: string, flags: { disk: string[]; accel: PlayOptions['accel']; name?: string; watch?: boolean }) => {
    const opts: PlayOptions = { disks: flags.disk, accel: flags.accel, ...(flags.name ? { name: flags.name } : {}), ...(flags.watch ? { watchFile: file } : {}) };
    const vm = selectVm(await loadManifests([file]), opts);
    process.exitCode = await play(vm, opts);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`kubevmm: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
