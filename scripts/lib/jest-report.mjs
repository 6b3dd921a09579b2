// Counts a Jest --json report the way every test command of this repository reports: passed,
// failed, skipped. A test file that fails to load reports zero tests, so it counts as one failure;
// a run that wrote no report (Jest crashed) counts as one failure too.
import { existsSync, readFileSync, rmSync } from 'node:fs';

/** Removes a previous run's report, so a crash before the new one is written cannot reuse it. */
export function clearReport(report) {
  rmSync(report, { force: true });
}

export function countReport(report, jestPassed) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  if (!existsSync(report)) {
    console.error(`Jest wrote no report (${report}): counted as a failure`);
    return { passed, failed: 1, skipped };
  }
  try {
    const results = JSON.parse(readFileSync(report, 'utf8'));
    passed += results.numPassedTests;
    failed += results.numFailedTests;
    skipped += results.numPendingTests + results.numTodoTests;
    failed += results.testResults.filter(
      (file) => file.status === 'failed' && file.assertionResults.length === 0,
    ).length;
  } catch (error) {
    console.error(`could not read the Jest report ${report}: ${error.message}`);
    failed += 1;
  }
  if (!jestPassed && failed === 0) failed = 1; // Jest failed for a reason outside any test (config, coverage, ...).
  return { passed, failed, skipped };
}

export function totalsLine({ passed, failed, skipped }) {
  return `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
}
