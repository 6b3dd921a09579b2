#!/usr/bin/env node
// The repository's one test command (`npm test`): every set-up step the suites need, then lint,
// then every Jest project (api, k8s, image, argocd) in one run, then one totals line.
//
//   npm test                       everything
//   npm test -- --selectProjects k8s   extra arguments go to Jest
//
// The last line is `N passed, M failed` (lint counts as one check; a test file that cannot even
// load counts as one failure, since Jest reports no tests for it). The exit code is non-zero on
// any failure.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const jestArgs = process.argv.slice(2);
// The `cluster` project needs a running real cluster (scripts/cluster/up.sh as root): not part of `npm test`.
const projects = jestArgs.includes('--selectProjects') ? [] : ['--selectProjects', 'api', 'k8s', 'image', 'argocd'];

function run(title, command, args, options = {}) {
  console.log(`\n== ${title}`);
  const started = Date.now();
  const { status } = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  console.log(
    `== ${title}: ${status === 0 ? 'ok' : `failed (exit ${status})`} in ${Math.round((Date.now() - started) / 1000)}s`,
  );
  return status === 0;
}

function stop(message) {
  console.error(message);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// The pinned tools the suites call (kubeconform and kwokctl are installable too, but no test needs them,
// and a cold build of each costs minutes). The second line is the simulated cluster and the Argo CD
// that syncs onto it (tests/argocd/sync-rehearsal.test.ts).
const TEST_TOOLS = [
  ...['kustomize', 'sops', 'age', 'yq', 'kube-score', 'gitleaks', 'actionlint', 'helm'],
  ...['kube-apiserver', 'kubectl', 'etcd', 'promtool', 'prometheus', 'tilt'],
  ...['kube-controller-manager', 'kube-scheduler', 'kwok', 'kwok-stages', 'argocd-runtime', 'redis'],
  ...['argocd', 'prometheus-operator', 'cert-manager', 'cert-manager-chart'],
];

// Set-up: those tools, then the Prisma client.
if (!run('install tools', 'bash', ['scripts/install-tools.sh', ...TEST_TOOLS]))
  stop('tool installation failed: see above');
if (!run('generate Prisma client', process.execPath, ['apps/api/scripts/generate-client.mjs', '--if-stale'])) {
  stop('prisma generate failed: see above');
}

const lintPassed = run('lint', 'npm', ['run', '--silent', 'lint']);

const report = path.join(root, 'test-results/jest.json');
mkdirSync(path.dirname(report), { recursive: true });
const jestPassed = run(
  'jest',
  process.execPath,
  [
    '--experimental-vm-modules',
    'node_modules/jest/bin/jest.js',
    '--json',
    `--outputFile=${report}`,
    ...projects,
    ...jestArgs,
  ],
  // The .tools/bin binaries come first, so the suites use the pinned versions, not whatever the machine has.
  { env: { ...process.env, PATH: `${path.join(root, '.tools/bin')}${path.delimiter}${process.env.PATH}` } },
);

let passed = lintPassed ? 1 : 0;
let failed = lintPassed ? 0 : 1;
let skipped = 0;
try {
  const results = JSON.parse(readFileSync(report, 'utf8'));
  passed += results.numPassedTests;
  failed += results.numFailedTests;
  skipped += results.numPendingTests + results.numTodoTests;
  // A file that fails to load reports zero tests: count it, or a broken suite would look green.
  failed += results.testResults.filter((file) => file.status === 'failed' && file.assertionResults.length === 0).length;
} catch (error) {
  console.error(`could not read the Jest report ${report}: ${error.message}`);
  failed += 1;
}
if (!jestPassed && failed === 0) failed = 1; // Jest failed for a reason outside any test (config, coverage, ...).

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
