// What a run stood in for or fell back to, so the summary can say what was and was not proven.
// Each note is one JSON line in test-results/notes.jsonl (scripts/test.mjs deletes the file before
// Jest starts and prints the notes, deduplicated, after the totals; each fallback also counts as
// skipped there). The same text goes to the test's console output, so a bare `jest` run shows it.
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, TOOLS_BIN } from './tools.js';

export const NOTES_FILE = path.join(REPO_ROOT, 'test-results', 'notes.jsonl');

export interface Note {
  /**
   * stand-in: something else played a component; fallback: a claimed step did not happen as claimed;
   * measured: a time or size the run measured (the summary prints it, nothing asserts on it).
   */
  kind: 'stand-in' | 'fallback' | 'measured';
  what: string;
}

export function note(entry: Note): void {
  mkdirSync(path.dirname(NOTES_FILE), { recursive: true });
  appendFileSync(NOTES_FILE, `${JSON.stringify(entry)}\n`);
  console.warn(`[${entry.kind}] ${entry.what}`);
}

/** KSOPS cannot be built here: when .tools/bin/ksops is absent, tests/support/ksops-exec.mjs plays it. */
export const KSOPS_STAND_IN_IN_USE = !existsSync(path.join(TOOLS_BIN, 'ksops'));

/** Appended to the titles of suites whose renders decrypt secrets through the KSOPS stand-in. */
export const KSOPS_TITLE = KSOPS_STAND_IN_IN_USE ? ' [KSOPS: exec stand-in]' : '';

export const KSOPS_NOTE: Note = {
  kind: 'stand-in',
  what: "KSOPS: tests/support/ksops-exec.mjs decrypted the overlays' secrets (the real KSOPS binary is not installed)",
};
