// Two projects: `unit` runs pure tests beside the code (in parallel); `system` runs the
// suites under test/ that start real processes (QEMU, the control plane), one at a time
// (`npm run test:system` passes --runInBand): they share one control plane and two cores.
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
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{api,operator,launcher,cli,bench,deviceplugin,scripts}/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'system',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testTimeout: 180000,
    },
  ],
};
