#!/usr/bin/env node
// `kubectl-vm`: the kubectl plugin (`kubectl vm VERB ...` runs `kubectl-vm VERB ...`). The same
// program as `kubevmm`, started the same way; it calls itself `kubectl vm` in usage and messages
// because process.argv[1] names this file (cli/program.ts, programNameOf).
import './kubevmm.js';
