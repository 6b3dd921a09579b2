// The backup alerts (gitops/monitoring/python-api/prometheusrule-backup.yaml), checked by the real
// promtool: they parse and lint clean, and fixtures/backup-alerts.promtool.yaml makes each one fire
// on a synthetic kube-state-metrics series that breaks it and resolve when the series recovers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { promtoolRules, withBrokenExpression, type PromtoolRules } from './promtool.js';

const FIXTURE = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'backup-alerts.promtool.yaml');

let promtool: PromtoolRules;

beforeAll(async () => {
  promtool = await promtoolRules('postgres-backup', FIXTURE);
});
afterAll(async () => {
  await promtool?.cleanup();
});

describe('the backup alerts', () => {
  it('pass promtool check rules, lint included, and are the two the issue asks for', async () => {
    const result = await promtool.check();
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/SUCCESS: 2 rules found/);
    expect(result.code).toBe(0);
    expect([...promtool.alerts].sort()).toEqual(['PostgresBackupTooOld', 'PostgresRestoreDrillFailed']);
  });

  it('each fire in a unit test and resolve later in the same series', () => {
    expect(promtool.alertsNotProven()).toEqual([]);
  });

  it('pass under promtool test rules', async () => {
    const result = await promtool.test();
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
    expect(result.code).toBe(0);
  });

  it.each([
    ['PostgresBackupTooOld', '> 26 * 3600', '> 28 * 3600'],
    ['PostgresRestoreDrillFailed', '== on (namespace) group_left ()', '!= on (namespace) group_left ()'],
  ])('would catch a broken %s (the tests can fail)', async (alert, from, to) => {
    const result = await promtool.test(withBrokenExpression(promtool.rules, alert, from, to));
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(new RegExp(alert));
  });
});
