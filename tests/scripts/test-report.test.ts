// `npm test`'s totals (scripts/test-report.mjs): a run is judged by its own Jest report only.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error: a plain .mjs script without type declarations
import { startReport, summarize } from '../../scripts/test-report.mjs';
import { REPO_ROOT } from '../support/tools.js';

interface Files {
  report: string;
  notes: string;
}
interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  notes: { kind: string; what: string }[];
  problems: string[];
}
const start = startReport as (root: string) => Files;
const totals = summarize as (run: { files: Files; lintPassed: boolean; jestPassed: boolean }) => Summary;

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'test-report-'));
  // What an earlier, green run left behind.
  await mkdir(path.join(root, 'test-results'));
  await writeFile(
    path.join(root, 'test-results/jest.json'),
    JSON.stringify({ numPassedTests: 430, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, testResults: [] }),
  );
  await writeFile(path.join(root, 'test-results/notes.jsonl'), '{"kind":"stand-in","what":"old"}\n');
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe("a run's report", () => {
  it("starts by deleting the previous run's report and notes", () => {
    const files = start(root);
    expect([existsSync(files.report), existsSync(files.notes)]).toEqual([false, false]);
  });

  it('a Jest whose globalSetup crashes writes no report, and the run counts as failed, not as the old passes', async () => {
    const files = start(root);
    const config = path.join(root, 'jest.config.mjs');
    await writeFile(path.join(root, 'crash-setup.mjs'), "export default () => { throw new Error('forced crash'); };\n");
    await writeFile(path.join(root, 'one.test.mjs'), "test('never runs', () => {});\n");
    await writeFile(
      config,
      `export default ${JSON.stringify({ rootDir: root, globalSetup: '<rootDir>/crash-setup.mjs', testMatch: ['**/one.test.mjs'], transform: {} })};\n`,
    );
    const jest = spawnSync(
      process.execPath,
      [
        '--experimental-vm-modules',
        path.join(REPO_ROOT, 'node_modules/jest/bin/jest.js'),
        '--config',
        config,
        '--json',
        `--outputFile=${files.report}`,
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(jest.stderr).toMatch(/forced crash/);
    expect(jest.status).not.toBe(0);
    const summary = totals({ files, lintPassed: true, jestPassed: jest.status === 0 });
    expect({ passed: summary.passed, failed: summary.failed }).toEqual({ passed: 1, failed: 1 });
    expect(summary.problems).toEqual([expect.stringMatching(/Jest wrote no report/)]);
    expect(summary.notes).toEqual([]);
  }, 60_000);

  it('lists each stand-in and fallback the suites noted once', async () => {
    const files = start(root);
    const line = (kind: string, what: string) => `${JSON.stringify({ kind, what })}\n`;
    await writeFile(files.notes, line('stand-in', 'KSOPS') + line('stand-in', 'KSOPS') + line('fallback', 'root'));
    await writeFile(
      files.report,
      JSON.stringify({ numPassedTests: 3, numFailedTests: 0, numPendingTests: 1, numTodoTests: 0, testResults: [] }),
    );
    expect(totals({ files, lintPassed: true, jestPassed: true })).toEqual({
      passed: 4,
      failed: 0,
      skipped: 1,
      notes: [
        { kind: 'stand-in', what: 'KSOPS' },
        { kind: 'fallback', what: 'root' },
      ],
      problems: [],
    });
  });
});
