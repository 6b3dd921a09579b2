#!/usr/bin/env node
// The real-cluster suite (`npm run test:cluster`, Linux and root): brings up the single-node cluster
// (scripts/cluster/up.sh), builds the images into its containerd (scripts/cluster/images.sh), runs the
// Jest project `cluster` against it (Argo CD deploys the dev overlay; tests/cluster/), and tears
// everything down, also when a step fails or the run is interrupted. Prints what stood in for what,
// then one totals line: `N passed, M failed`.
//
//   npm run test:cluster                           everything
//   npm run test:cluster -- -t 'NetworkPolicies'   extra arguments go to Jest
//   PYTHON_API_CLUSTER_PROVIDER=kind npm run test:cluster -- tests/cluster/product.test.ts
//       the same suite on kind (scripts/cluster/kind/: needs Docker; what the GitHub workflow runs)
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startReport, summarize } from './test-report.mjs';

const root = path.resolve(import.meta.dirname, '..');
const jestArgs = process.argv.slice(2);
// The Jest report, and the notes (tests/support/notes.ts) where the suites and this script record
// every stand-in: both cleared first, so nothing from an earlier run is counted or printed.
const files = startReport(root, 'jest-cluster');
const timings = [];
const provider = process.env.PYTHON_API_CLUSTER_PROVIDER ?? 'node';
const scripts = { node: 'scripts/cluster', kind: 'scripts/cluster/kind' }[provider];
if (!scripts) {
  console.error(`unknown PYTHON_API_CLUSTER_PROVIDER '${provider}' (node or kind)`);
  process.exit(2);
}

function step(title, command, args, options = {}) {
  console.log(`\n== ${title}`);
  const started = Date.now();
  const { status } = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  const seconds = Math.round((Date.now() - started) / 1000);
  timings.push(`${title}: ${seconds}s`);
  console.log(`== ${title}: ${status === 0 ? 'ok' : `failed (exit ${status})`} in ${seconds}s`);
  return status === 0;
}

function finish({ passed, failed, skipped, notes = [], problems = [] }) {
  for (const problem of problems) console.error(problem);
  const measured = notes.filter(({ kind }) => kind === 'measured');
  const standIns = notes.filter(({ kind }) => kind !== 'measured');
  console.log('\n== what stood in for what (everything else ran for real)');
  console.log(standIns.length ? standIns.map(({ kind, what }) => `  ${kind}: ${what}`).join('\n') : '  nothing');
  if (measured.length) console.log(`\n== measured\n${measured.map(({ what }) => `  ${what}`).join('\n')}`);
  console.log(`\n== times\n  ${timings.join('\n  ')}`);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed === 0 ? 0 : 1);
}

if (provider === 'node' && (process.platform !== 'linux' || process.getuid?.() !== 0)) {
  console.error('the real-cluster suite needs Linux and root (it starts kubelet, containerd and network namespaces)');
  finish({ passed: 0, failed: 1, skipped: 0 });
}

/** images.sh's table (name, digest, seconds, kind, note): every image not built from the Dockerfile becomes a note. */
function recordImageStandIns() {
  const table = path.join(process.env.PYTHON_API_CLUSTER_DIR ?? '/var/tmp/python-api-cluster', 'images.tsv');
  if (!existsSync(table)) return provider === 'kind'; // kind builds every image with Docker (scripts/cluster/kind/up.sh)
  for (const [name, , , kind, note] of readFileSync(table, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t'))) {
    if (kind === 'built') continue;
    const what = `image ${name}${note ? `: ${note}` : ''}`;
    appendFileSync(files.notes, `${JSON.stringify({ kind: 'stand-in', what })}\n`);
  }
  return true;
}

let tornDown = false;
function tearDown() {
  if (tornDown) return true;
  tornDown = true;
  return step('cluster down', 'bash', [`${scripts}/down.sh`]);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    tearDown();
    finish({ passed: 0, failed: 1, skipped: 0 });
  });
}

let counts = { passed: 0, failed: 0, skipped: 0 };
if (!step(`cluster up (${provider})`, 'bash', [`${scripts}/up.sh`])) {
  counts.failed += 1;
} else if (!step('images', 'bash', [`${scripts}/images.sh`])) {
  counts.failed += 1;
} else if (!recordImageStandIns()) {
  counts.failed += 1;
} else if (!step('generate Prisma client', process.execPath, ['apps/api/scripts/generate-client.mjs', '--if-stale'])) {
  counts.failed += 1;
} else {
  const jestPassed = step(
    'jest (cluster)',
    process.execPath,
    [
      '--experimental-vm-modules',
      'node_modules/jest/bin/jest.js',
      '--selectProjects',
      'cluster',
      // One cluster: its suites take turns.
      '--runInBand',
      '--json',
      `--outputFile=${files.report}`,
      ...jestArgs,
    ],
    { env: { ...process.env, PATH: `${path.join(root, '.tools/bin')}${path.delimiter}${process.env.PATH}` } },
  );
  counts = summarize({ files, jestPassed });
}
if (!tearDown()) counts.failed += 1;
finish(counts);
