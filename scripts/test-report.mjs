// The bookkeeping of `npm test` (scripts/test.mjs) around Jest's JSON report, apart so that it can
// be tested: where the run's files are, clearing the previous run's, and the totals.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

/**
 * The report files of a run under `root`, after deleting any an earlier run left: a Jest that
 * crashes before writing its report must count as failed, never as the previous run's passes.
 */
export function startReport(root, name = 'jest') {
  const files = {
    report: path.join(root, `test-results/${name}.json`),
    // tests/support/notes.ts: the stand-ins and fallbacks this run used.
    notes: path.join(root, 'test-results/notes.jsonl'),
  };
  mkdirSync(path.dirname(files.report), { recursive: true });
  rmSync(files.report, { force: true });
  rmSync(files.notes, { force: true });
  return files;
}

/**
 * Totals of a run: lint counts as one check (when the run linted: lintPassed is a boolean), a
 * missing or unreadable report as one failure.
 */
export function summarize({ files, lintPassed, jestPassed }) {
  let passed = lintPassed === true ? 1 : 0;
  let failed = lintPassed === false ? 1 : 0;
  let skipped = 0;
  const problems = [];
  if (!existsSync(files.report)) {
    problems.push(`Jest wrote no report (${files.report}): counted as a failure`);
    failed += 1;
  } else {
    try {
      const results = JSON.parse(readFileSync(files.report, 'utf8'));
      passed += results.numPassedTests;
      failed += results.numFailedTests;
      skipped += results.numPendingTests + results.numTodoTests;
      // A file that fails to load reports zero tests: count it, or a broken suite would look green.
      failed += results.testResults.filter(
        (file) => file.status === 'failed' && file.assertionResults.length === 0,
      ).length;
    } catch (error) {
      problems.push(`could not read the Jest report ${files.report}: ${error.message}`);
      failed += 1;
    }
  }
  if (!jestPassed && failed === 0) failed = 1; // Jest failed for a reason outside any test (config, coverage, ...).
  const notes = existsSync(files.notes)
    ? [...new Set(readFileSync(files.notes, 'utf8').split('\n').filter(Boolean))].map((line) => JSON.parse(line))
    : [];
  return { passed, failed, skipped, notes, problems };
}
