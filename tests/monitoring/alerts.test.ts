// The API's alert rules, checked by the real promtool: they parse and lint clean, and the unit
// tests in fixtures/alerts.promtool.yaml make every alert fire on a synthetic series that breaks
// its threshold and resolve when the series recovers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { run, tool } from '../support/tools.js';
import { find, type KubeObject } from '../support/kube-apiserver.js';
import { render } from '../support/repository.js';

const FIXTURE = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'alerts.promtool.yaml');

interface RuleGroups {
  groups: { name: string; rules: { alert?: string; expr: string }[] }[];
}
interface UnitTests {
  tests: { name: string; alert_rule_test: { eval_time: string; alertname: string; exp_alerts: unknown[] }[] }[];
}

let dir = '';
let rules: RuleGroups;

beforeAll(async () => {
  // The PrometheusRule's spec is exactly a Prometheus rule file.
  const rule = find(await render('gitops/monitoring/python-api'), 'PrometheusRule', 'python-api') as KubeObject & {
    spec: RuleGroups;
  };
  rules = rule.spec;
  dir = await mkdtemp(path.join(os.tmpdir(), 'promtool-'));
  await writeFile(path.join(dir, 'rules.yaml'), stringify(rules));
  await copyFile(FIXTURE, path.join(dir, 'tests.yaml'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the PrometheusRule', () => {
  it('passes promtool check rules, lint included', async () => {
    const result = await run(tool('promtool'), ['check', 'rules', '--lint=all', '--lint-fatal', 'rules.yaml'], {
      cwd: dir,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/SUCCESS: 8 rules found/);
    expect(result.code).toBe(0);
  });

  it('has the alerts the issue lists', () => {
    expect(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort()).toEqual(
      [
        'PostgresConnectionsNearLimit',
        'PostgresDown',
        'PostgresVolumeNearlyFull',
        'PythonApiHighErrorRate',
        'PythonApiHighLatencyP99',
        'PythonApiHpaAtMaximum',
        'PythonApiPodsRestarting',
        'PythonApiReplicasUnavailable',
      ].sort(),
    );
  });
});

describe('the alert unit tests', () => {
  it('cover every alert: each fires, and each resolves again later in the same series', () => {
    const tests = (parse(readFileSync(FIXTURE, 'utf8')) as UnitTests).tests;
    const minutes = (t: string) => Number(t.replace(/m$/, ''));
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
    const result = await run(tool('promtool'), ['test', 'rules', 'tests.yaml'], { cwd: dir });
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
    expect(result.code).toBe(0);
  });

  it('would catch a broken threshold (the tests can fail)', async () => {
    const broken = structuredClone(rules);
    const rule = broken.groups.flatMap((g) => g.rules).find((r) => r.alert === 'PostgresConnectionsNearLimit')!;
    rule.expr = rule.expr.replace('> 0.8', '> 0.95');
    await writeFile(path.join(dir, 'rules.yaml'), stringify(broken));
    try {
      const result = await run(tool('promtool'), ['test', 'rules', 'tests.yaml'], { cwd: dir });
      expect(result.code).not.toBe(0);
      expect(result.stdout + result.stderr).toMatch(/PostgresConnectionsNearLimit/);
    } finally {
      await writeFile(path.join(dir, 'rules.yaml'), stringify(rules));
    }
  });
});
