// One PrometheusRule and its promtool unit tests in a scratch folder, for the alert suites: the
// rule's spec is exactly a Prometheus rule file, so promtool checks and tests what Argo CD syncs.
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { find, type KubeObject } from '../support/kube-apiserver.js';
import { render } from '../support/repository.js';
import { run, tool, type RunResult } from '../support/tools.js';

export interface RuleGroups {
  groups: { name: string; rules: { alert?: string; expr: string }[] }[];
}
interface UnitTests {
  tests: { name: string; alert_rule_test: { eval_time: string; alertname: string; exp_alerts: unknown[] }[] }[];
}

export interface PromtoolRules {
  /** The rule's groups as rendered from gitops/monitoring/python-api. */
  readonly rules: RuleGroups;
  readonly alerts: string[];
  /** `promtool check rules --lint=all --lint-fatal`. */
  check(): Promise<RunResult>;
  /** `promtool test rules` on the fixture, against `rules` or a changed copy of them. */
  test(rules?: RuleGroups): Promise<RunResult>;
  /** Alerts no unit test both fires and resolves later in the same series. */
  alertsNotProven(): string[];
  cleanup(): Promise<void>;
}

/** `30m` or `27h` in minutes. */
const minutes = (t: string) => (t.endsWith('h') ? Number(t.slice(0, -1)) * 60 : Number(t.replace(/m$/, '')));

export async function promtoolRules(ruleName: string, fixture: string): Promise<PromtoolRules> {
  const rule = find(await render('gitops/monitoring/python-api'), 'PrometheusRule', ruleName) as KubeObject & {
    spec: RuleGroups;
  };
  const rules = rule.spec;
  const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
  const dir = await mkdtemp(path.join(os.tmpdir(), `promtool-${ruleName}-`));
  await writeFile(path.join(dir, 'rules.yaml'), stringify(rules));
  await copyFile(fixture, path.join(dir, 'tests.yaml'));

  return {
    rules,
    alerts,
    check: () => run(tool('promtool'), ['check', 'rules', '--lint=all', '--lint-fatal', 'rules.yaml'], { cwd: dir }),
    async test(changed = rules) {
      await writeFile(path.join(dir, 'rules.yaml'), stringify(changed));
      try {
        return await run(tool('promtool'), ['test', 'rules', 'tests.yaml'], { cwd: dir });
      } finally {
        await writeFile(path.join(dir, 'rules.yaml'), stringify(rules));
      }
    },
    alertsNotProven() {
      const tests = (parse(readFileSync(fixture, 'utf8')) as UnitTests).tests;
      return alerts.filter(
        (alert) =>
          !tests.some((test) => {
            const checks = test.alert_rule_test.filter((c) => c.alertname === alert);
            const fired = checks.find((c) => c.exp_alerts.length > 0);
            return (
              fired !== undefined &&
              checks.some((c) => c.exp_alerts.length === 0 && minutes(c.eval_time) > minutes(fired.eval_time))
            );
          }),
      );
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The rules with one alert's expression edited: `from` must occur in it. */
export function withBrokenExpression(rules: RuleGroups, alert: string, from: string, to: string): RuleGroups {
  const broken = structuredClone(rules);
  const rule = broken.groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
  if (!rule?.expr.includes(from)) throw new Error(`${alert}'s expression has no '${from}'`);
  rule.expr = rule.expr.replace(from, to);
  return broken;
}
