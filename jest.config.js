/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // isolatedModules comes from the tsconfig override (merged over tsconfig.json):
    // ts-jest 29.4's own `isolatedModules` option is deprecated and warns.
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: { isolatedModules: true } }],
    // jose 6 ships ES modules only; test/support/esm-to-cjs.js says why they are transformed.
    '/node_modules/jose/.+\\.js$': '<rootDir>/test/support/esm-to-cjs.js',
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // Every AWS call made as a function or state is judged against its role (docs/design.md invariant 10).
  setupFilesAfterEnv: ['<rootDir>/test/support/iam-setup.ts'],
  testTimeout: 60000,
  // The suites wait on moto far more than they compute: two workers on the 2-core CI machine
  // (jest's default is one) took the run from 9 min 49 s to 6 min 48 s, all passing.
  maxWorkers: 2,
};
