/** The `kubevmm` entry point (bundled into dist/cli by scripts/bundle.ts; bin/kubevmm.js runs it). */
import { main } from './program.js';

process.exitCode = await main(process.argv);
