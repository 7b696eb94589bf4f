// Three projects: `unit` runs pure tests beside the code (in parallel); `system` runs the
// suites under test/ that start real processes (QEMU, the control plane), one at a time
// (`npm run test:system` passes --runInBand): they share one control plane and two cores;
// `e2e` runs test/e2e on a real node (kubelet, containerd), one at a time too.
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
  testSequencer: '<rootDir>/test/e2e/helpers/sequencer.mjs',
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{api,operator,launcher,subresource,cli,bench,deviceplugin,scripts,harness,ui}/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'system',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/'],
      testTimeout: 180000,
    },
    {
      // The real-node tier: one cluster (test/e2e/e2e.sh) for every suite; teardown.test.ts
      // runs last and takes it down.
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/e2e/helpers/timeout.ts'],
    },
  ],
};
