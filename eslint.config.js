// Lint with the house-style limits from docs/design.md and layers that point one way:
// api <- operator/render <- operator/reconcile <- operator/kube <- main. Every folder has an
// allow-list of the folders it may import from (its own always allowed); anything else is an
// error. Imports are resolved against the importing file, so `../render/x.js` and
// `../../test/launcher/helpers/x.js` are told apart by where they point, not by their words.
import { dirname, relative, resolve } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ROOT = import.meta.dirname;

/** Production code: who may import whom. Sub-folders first, so a file finds its most specific area. */
const PRODUCTION = {
  api: [],
  'operator/render': ['api'],
  'operator/reconcile': ['api', 'operator/render'],
  'operator/pki': ['api'],
  'operator/kube': ['api', 'operator/render', 'operator/reconcile', 'operator/pki'],
  'operator/webhook': ['api', 'operator', 'operator/kube', 'operator/pki'],
  operator: ['api', 'operator/render', 'operator/reconcile', 'operator/pki', 'operator/kube', 'operator/webhook'],
  'launcher/qemu': ['api'],
  'launcher/qmp': ['api'],
  'launcher/cloudinit': ['api', 'launcher'],
  'launcher/runtime': ['api', 'launcher', 'launcher/qemu', 'launcher/qmp', 'launcher/cloudinit'],
  'launcher/control': ['api', 'launcher/runtime'],
  'launcher/metrics': ['api', 'launcher/qemu', 'launcher/qmp', 'launcher/runtime'],
  'launcher/export': ['api', 'launcher', 'launcher/qemu', 'launcher/runtime'],
  // The importer (launcher import): the control API's TLS checks and the backoff, nothing of the VM.
  'launcher/import': ['api', 'launcher', 'launcher/control', 'launcher/runtime'],
  launcher: ['api', 'launcher/qemu', 'launcher/qmp', 'launcher/cloudinit', 'launcher/runtime', 'launcher/control', 'launcher/metrics', 'launcher/export', 'launcher/import'],
  deviceplugin: [],
  // The subresource server (ADR 0011): its pure request checks never reach the operator.
  'subresource/auth': ['api'],
  subresource: ['api', 'subresource/auth'],
  // The web console: the browser app knows only the contracts; its server only the contracts and its own code.
  'ui/app': ['api'],
  'ui/server': ['api'],
  cli: ['api', 'operator', 'operator/render', 'launcher', 'launcher/runtime', 'launcher/qemu', 'ui/server'],
  scripts: ['api'],
};
const PRODUCT = Object.keys(PRODUCTION);
/** Harnesses: harness/ is shared by test/ and bench/; bench never imports test code; tests import anything but bench. */
const LAYERS = {
  ...PRODUCTION,
  harness: ['api', 'launcher', 'launcher/runtime', 'launcher/qemu', 'operator/pki'],
  bench: [...PRODUCT, 'harness'],
  test: [...PRODUCT, 'harness'],
};
const AREAS = Object.keys(LAYERS).sort((a, b) => b.split('/').length - a.split('/').length);

function areaOf(path) {
  return AREAS.find((a) => path === a || path.startsWith(`${a}/`));
}

/** What a file may import: its area's list; a test beside the code may also use test/ and harness/ (and scripts/ from cli). */
function allowedFor(file) {
  const area = areaOf(file);
  const own = LAYERS[area] ?? [];
  if (!file.endsWith('.test.ts') || area === 'test') return own;
  return [...own, 'test', 'harness', ...(area === 'cli' ? ['scripts'] : [])];
}

export const layers = {
  rules: {
    'allowed-imports': {
      meta: { type: 'problem', schema: [] },
      create(context) {
        const file = relative(ROOT, context.filename);
        const from = areaOf(file);
        if (!from) return {};
        const allowed = allowedFor(file);
        const check = (node) => {
          const spec = node.source?.value;
          if (typeof spec !== 'string' || !spec.startsWith('.')) return;
          const to = areaOf(relative(ROOT, resolve(dirname(context.filename), spec)));
          if (!to || to === from || allowed.includes(to)) return;
          context.report({ node: node.source, message: `layers point one way: ${from}/ may import only from ${allowed.join(', ') || 'nothing of ours'}; not ${to}/ (eslint.config.js)` });
        };
        return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
      },
    },
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', 'test/cluster/**', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { layers },
    rules: {
      'layers/allowed-imports': 'error',
      // 15, not 10-12: ESLint counts every `?.` and `??`, which typed optional fields are full of.
      complexity: ['error', 15],
      'max-params': ['error', 4],
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-depth': ['error', 4],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'max-lines': 'off', complexity: 'off', 'max-params': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
