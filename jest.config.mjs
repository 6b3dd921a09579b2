// One Jest run covers the API and the infrastructure suites. Every project shares the same
// TypeScript + ESM transform (SWC), so a `*.test.ts` dropped into any of the folders below
// runs as-is. ESM needs Node's VM modules: run Jest through `npm run test:api` / the lead's
// test script, which pass --experimental-vm-modules.

/** @type {import('@swc/core').Options} */
const swc = {
  jsc: {
    parser: { syntax: 'typescript' },
    target: 'es2023',
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

/** Settings every project shares. */
const shared = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  // Sources import siblings as './x.js' (NodeNext); map that back to the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
export default {
  projects: [
    {
      ...shared,
      displayName: 'api',
      roots: ['<rootDir>/apps/api/test'],
      testMatch: ['**/*.test.ts'],
      // One embedded PostgreSQL per run; each test file clones its own database from a template.
      globalSetup: '<rootDir>/apps/api/test/support/global-setup.mjs',
      globalTeardown: '<rootDir>/apps/api/test/support/global-teardown.mjs',
    },
    { ...shared, displayName: 'k8s', roots: ['<rootDir>/tests/k8s'], testMatch: ['**/*.test.ts'] },
    { ...shared, displayName: 'image', roots: ['<rootDir>/tests/image'], testMatch: ['**/*.test.ts'] },
    { ...shared, displayName: 'argocd', roots: ['<rootDir>/tests/argocd'], testMatch: ['**/*.test.ts'] },
    // Alerts, dashboards and the metrics they query (promtool, Prometheus, the real API).
    { ...shared, displayName: 'monitoring', roots: ['<rootDir>/tests/monitoring'], testMatch: ['**/*.test.ts'] },
    // The CI workflows (.github/workflows): push to deploy, promotion.
    { ...shared, displayName: 'workflows', roots: ['<rootDir>/tests/workflows'], testMatch: ['**/*.test.ts'] },
    // scripts/test.mjs's own bookkeeping.
    { ...shared, displayName: 'scripts', roots: ['<rootDir>/tests/scripts'], testMatch: ['**/*.test.ts'] },
    // Needs a running real cluster (scripts/cluster/up.sh, root): only run when selected (npm run test:cluster).
    { ...shared, displayName: 'cluster', roots: ['<rootDir>/tests/cluster'], testMatch: ['**/*.test.ts'] },
  ],
  // Infrastructure suites may raise it per file with jest.setTimeout().
  testTimeout: 30_000,
};
