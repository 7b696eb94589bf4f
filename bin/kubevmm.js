#!/usr/bin/env node
// Entry point for `npx kubevmm`: loads the TypeScript CLI through tsx's ESM hooks, so no
// build step stands between `npm ci` and the first command.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
