#!/usr/bin/env node
// The repository's one test command (`npm test`): every set-up step the suites need, then lint,
// then every Jest project but `cluster` (api, k8s, image, argocd, monitoring, workflows, scripts) in one run,
// then one totals line.
//
//   npm test                       everything
//   npm test -- --selectProjects k8s   extra arguments go to Jest
//
// The last line is `N passed, M failed` (lint counts as one check; a test file that cannot even
// load counts as one failure, since Jest reports no tests for it; a Jest run that writes no report
// counts as one failure). Above it, one line per stand-in or fallback the suites reported
// (tests/support/notes.ts). The exit code is non-zero on any failure.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startReport, summarize } from './test-report.mjs';

const root = path.resolve(import.meta.dirname, '..');
const jestArgs = process.argv.slice(2);
// The `cluster` project needs a running real cluster (scripts/cluster/up.sh as root): not part of `npm test`.
const projects = jestArgs.includes('--selectProjects')
  ? []
  : ['--selectProjects', 'api', 'k8s', 'image', 'argocd', 'monitoring', 'workflows', 'scripts'];

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
// and a cold build of each costs minutes). rclone is the backups' object-store client and, with
// `rclone serve s3`, the S3 server standing in for Garage (tests/k8s/backup-object-store-upload.test.ts).
// The third line is the simulated cluster and the Argo CD that syncs onto it (tests/argocd/sync-rehearsal.test.ts).
const TEST_TOOLS = [
  ...[
    'kustomize',
    'sops',
    'age',
    'yq',
    'kube-score',
    'gitleaks',
    'actionlint',
    'helm',
    'postgresql',
    'registry',
    'regctl',
    'rclone',
  ],
  ...['kube-apiserver', 'kubectl', 'etcd', 'promtool', 'prometheus', 'tilt'],
  ...[
    'kube-controller-manager',
    'kube-scheduler',
    'kwok',
    'kwok-stages',
    'argocd-runtime',
    'argocd-project-check',
    'redis',
  ],
  ...['argocd', 'prometheus-operator', 'cert-manager', 'cert-manager-chart'],
];

// Set-up: those tools, then the Prisma client.
if (!run('install tools', 'bash', ['scripts/install-tools.sh', ...TEST_TOOLS]))
  stop('tool installation failed: see above');
if (!run('generate Prisma client', process.execPath, ['apps/api/scripts/generate-client.mjs', '--if-stale'])) {
  stop('prisma generate failed: see above');
}

const lintPassed = run('lint', 'npm', ['run', '--silent', 'lint']);

const files = startReport(root);
const jestPassed = run(
  'jest',
  process.execPath,
  [
    '--experimental-vm-modules',
    'node_modules/jest/bin/jest.js',
    '--json',
    `--outputFile=${files.report}`,
    ...projects,
    ...jestArgs,
  ],
  // The .tools/bin binaries come first, so the suites use the pinned versions, not whatever the machine has.
  { env: { ...process.env, PATH: `${path.join(root, '.tools/bin')}${path.delimiter}${process.env.PATH}` } },
);

const { passed, failed, skipped, notes, problems } = summarize({ files, lintPassed, jestPassed });
for (const problem of problems) console.error(problem);
// What stood in for what, and which fallbacks were taken: part of what this run did (and did not) prove.
for (const { kind, what } of notes) console.log(`${kind}: ${what}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
