/** The `kubevmm` command: offline validation and rendering, and local VMs with `play`. */
import { Command } from 'commander';
import { configFromOptions, withConfigOptions } from './config.js';
import { loadManifests } from './load.js';
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

try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`kubevmm: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
