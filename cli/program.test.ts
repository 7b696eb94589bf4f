import { CommanderError } from 'commander';
import { ClusterError } from './cluster/api-errors.js';
import { EditRefused } from '../api/vm-edits.js';
import { EXIT, VerbError } from './exit.js';
import { exitCodeOf, PLUGIN_NAME, programNameOf } from './program.js';

describe('exit codes (the CLI contract)', () => {
  it('0 done (help), 1 failed, 2 usage error, 3 a wait that ran out of --timeout', () => {
    expect(exitCodeOf(new CommanderError(0, 'commander.helpDisplayed', ''))).toBe(EXIT.ok);
    expect(exitCodeOf(new CommanderError(1, 'commander.missingArgument', "missing required argument 'name'"))).toBe(EXIT.usage);
    expect(exitCodeOf(new EditRefused('VM web is Halted'))).toBe(EXIT.failed);
    expect(exitCodeOf(new ClusterError('you may not patch virtualmachines'))).toBe(EXIT.failed);
    expect(exitCodeOf(new Error('anything else'))).toBe(EXIT.failed);
    expect(exitCodeOf(new VerbError('timed out after 1s waiting for vm/web to be Running', EXIT.timedOut))).toBe(3);
    expect(exitCodeOf(new VerbError('these flags make an invalid VirtualMachine', EXIT.usage))).toBe(2);
  });
});

describe('the program name', () => {
  it('is `kubectl vm` when kubectl runs the kubectl-vm plugin, kubevmm otherwise', () => {
    expect(programNameOf('/usr/local/bin/kubectl-vm')).toBe(PLUGIN_NAME);
    expect(programNameOf('/usr/lib/node_modules/kubevmm/bin/kubectl-vm.js')).toBe('kubectl vm');
    expect(programNameOf('/usr/local/bin/kubevmm')).toBe('kubevmm');
    expect(programNameOf('/src/kubevmm/cli/main.ts')).toBe('kubevmm');
    expect(programNameOf('/tmp/kubectl-vmx')).toBe('kubevmm');
    expect(programNameOf(undefined)).toBe('kubevmm');
  });
});
