// What a cluster suite stood in for, written where scripts/test-cluster.mjs prints it in the run's
// summary (a stand-in must never pass silently).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../support/tools.js';

export const STAND_IN_DIR = path.join(REPO_ROOT, 'test-results', 'stand-ins');

export function recordStandIns(suite: string, standIns: readonly string[]): void {
  mkdirSync(STAND_IN_DIR, { recursive: true });
  writeFileSync(path.join(STAND_IN_DIR, `${suite}.txt`), standIns.map((line) => `${line}\n`).join(''));
}
