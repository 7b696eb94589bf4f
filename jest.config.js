// Two projects: `unit` runs pure tests beside the code; `system` runs the suites under
// test/ that start real processes (QEMU, the control plane). `npm test` runs both.
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform,
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};
export default {
  // system suites start QEMU guests: two at once saturate the two cores of CI
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{api,operator,launcher,cli,bench}/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'system',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testTimeout: 180000,
    },
  ],
};
