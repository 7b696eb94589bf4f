// Lint with the house-style limits from docs/design.md and layers that point one way:
// api <- operator/render <- operator/reconcile <- operator/kube <- main.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Forbid imports from the named folders (relative paths of any depth). */
function forbid(...folders) {
  return {
    'no-restricted-imports': [
      'error',
      {
        patterns: folders.map((f) => ({
          group: [`**/${f}/**`, `**/${f}`],
          message: `layers point one way: this layer must not import from ${f}/`,
        })),
      },
    ],
  };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', 'test/cluster/**', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
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
  { files: ['api/**/*.ts'], rules: forbid('operator', 'launcher', 'cli', 'test', 'bench') },
  { files: ['operator/render/**/*.ts'], rules: forbid('reconcile', 'kube', 'launcher', 'cli') },
  { files: ['operator/reconcile/**/*.ts'], rules: forbid('kube', 'launcher', 'cli') },
  { files: ['launcher/**/*.ts'], rules: forbid('operator', 'cli') },
  { files: ['launcher/qemu/**/*.ts'], rules: forbid('operator', 'cli', 'qmp', 'control') },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'max-lines': 'off', complexity: 'off', 'max-params': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
