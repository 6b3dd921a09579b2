// The backup alerts (gitops/monitoring/python-api/prometheusrule-backup.yaml), checked by the real
// promtool: they parse and lint clean, and fixtures/backup-alerts.promtool.yaml makes each one fire
// on a synthetic kube-state-metrics series that breaks it and resolve when the series recovers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { run, tool } from '../support/tools.js';
import { find, type KubeObject } from '../support/kube-apiserver.js';
import { render } from '../support/repository.js';

const FIXTURE = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'backup-alerts.promtool.yaml');

interface RuleGroups {
  groups: { name: string; rules: { alert?: string; expr: string }[] }[];
}
interface UnitTests {
  tests: { name: string; alert_rule_test: { eval_time: string; alertname: string; exp_alerts: unknown[] }[] }[];
}

let dir = '';
let rules: RuleGroups;

const promtoolTest = () => run(tool('promtool'), ['test', 'rules', 'tests.yaml'], { cwd: dir });

beforeAll(async () => {
  const rule = find(await render('gitops/monitoring/python-api'), 'PrometheusRule', 'postgres-backup') as KubeObject & {
    spec: RuleGroups;
  };
  rules = rule.spec;
  dir = await mkdtemp(path.join(os.tmpdir(), 'promtool-backup-'));
  await writeFile(path.join(dir, 'rules.yaml'), stringify(rules));
  await copyFile(FIXTURE, path.join(dir, 'tests.yaml'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the backup alerts', () => {
  it('pass promtool check rules, lint included, and are the two the issue asks for', async () => {
    const result = await run(tool('promtool'), ['check', 'rules', '--lint=all', '--lint-fatal', 'rules.yaml'], {
      cwd: dir,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/SUCCESS: 2 rules found/);
    expect(result.code).toBe(0);
    expect(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort()).toEqual([
      'PostgresBackupTooOld',
      'PostgresRestoreDrillFailed',
    ]);
  });

  it('each fire in a unit test and resolve later in the same series', () => {
    const tests = (parse(readFileSync(FIXTURE, 'utf8')) as UnitTests).tests;
    const minutes = (t: string) => (t.endsWith('h') ? Number(t.slice(0, -1)) * 60 : Number(t.replace(/m$/, '')));
    for (const alert of rules.groups.flatMap((g) => g.rules.map((r) => r.alert!))) {
      const proven = tests.some((test) => {
        const checks = test.alert_rule_test.filter((c) => c.alertname === alert);
        const fired = checks.find((c) => c.exp_alerts.length > 0);
        return (
          fired !== undefined &&
          checks.some((c) => c.exp_alerts.length === 0 && minutes(c.eval_time) > minutes(fired.eval_time))
        );
      });
      expect([alert, proven]).toEqual([alert, true]);
    }
  });

  it('pass under promtool test rules', async () => {
    const result = await promtoolTest();
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
    expect(result.code).toBe(0);
  });

  it.each([
    ['PostgresBackupTooOld', '> 26 * 3600', '> 28 * 3600'],
    ['PostgresRestoreDrillFailed', '== on (namespace) group_left ()', '!= on (namespace) group_left ()'],
  ])('would catch a broken %s (the tests can fail)', async (alert, from, to) => {
    const broken = structuredClone(rules);
    const rule = broken.groups.flatMap((g) => g.rules).find((r) => r.alert === alert)!;
    expect(rule.expr).toContain(from);
    rule.expr = rule.expr.replace(from, to);
    await writeFile(path.join(dir, 'rules.yaml'), stringify(broken));
    try {
      const result = await promtoolTest();
      expect(result.code).not.toBe(0);
      expect(result.stdout + result.stderr).toMatch(new RegExp(alert));
    } finally {
      await writeFile(path.join(dir, 'rules.yaml'), stringify(rules));
    }
  });
});
