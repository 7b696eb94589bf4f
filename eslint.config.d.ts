// Types of eslint.config.js for the test that checks its layer rule (test/lint/layers.test.ts).
import type { ESLint, Linter } from 'eslint';

/** The inline plugin holding the layer rule. */
export declare const layers: ESLint.Plugin;
declare const config: Linter.Config[];
export default config;
