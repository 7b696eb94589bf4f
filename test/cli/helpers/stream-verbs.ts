// The stream verbs' command line as `kubevmm` parses it (cli/cluster/args.ts) dispatched to
// their runners, for the suites that drive them as processes: `node --import tsx
// test/cli/helpers/stream-verbs.ts console NAME --kubeconfig F`. The CLI's own dispatcher
// (cli/cluster/run.ts) is written beside this work; once it is in program.ts, the suites can
// run the installed `kubevmm` instead (test/cli/helpers/kubevmm.ts) with the same arguments.
import { Command, CommanderError } from 'commander';
import { addClusterVerbs, type VerbRequest } from '../../../cli/cluster/args.js';
import { runConsole } from '../../../cli/cluster/console.js';
import { loadContext } from '../../../cli/cluster/context.js';
import { runPortForward, runSsh } from '../../../cli/cluster/forward.js';
import { runVnc } from '../../../cli/cluster/vnc.js';
import { EXIT } from '../../../cli/program.js';

async function run(request: VerbRequest): Promise<void> {
  const ctx = loadContext(request);
  if (request.verb === 'console') process.exitCode = await runConsole(request, ctx);
  else if (request.verb === 'vnc') process.exitCode = await runVnc(request, ctx);
  else if (request.verb === 'ssh') process.exitCode = await runSsh(request, ctx);
  else if (request.verb === 'port-forward') process.exitCode = await runPortForward(request, ctx);
  else throw new Error(`${request.verb} is not a stream verb`);
}

const program = addClusterVerbs(new Command('kubevmm').exitOverride(), run);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) console.error(`kubevmm: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = err instanceof CommanderError ? EXIT.usage : EXIT.failed;
}
