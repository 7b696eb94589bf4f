#!/usr/bin/env node
// `kubevmm`: runs the CLI's prebuilt bundle (dist/cli, built by `npm ci` through the prepare
// script, or `npm run build:cli`). Plain JavaScript at run time: no TypeScript compiler, and
// each verb loads only its own chunk. `npm run kubevmm -- ARGS` runs the sources through tsx.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/cli/kubevmm.mjs', import.meta.url);
if (!existsSync(bundle)) {
  console.error('kubevmm: the CLI is not built (dist/cli/kubevmm.mjs is missing); build it with: npm run build:cli');
  process.exit(1);
}
await import(bundle.href);
