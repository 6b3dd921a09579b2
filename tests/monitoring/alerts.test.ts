// The API's alert rules, checked by the real promtool: they parse and lint clean, and the unit
// tests in fixtures/alerts.promtool.yaml make every alert fire on a synthetic series that breaks
// its threshold and resolve when the series recovers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { promtoolRules, withBrokenExpression, type PromtoolRules } from './promtool.js';

const FIXTURE = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'alerts.promtool.yaml');

let promtool: PromtoolRules;

beforeAll(async () => {
  promtool = await promtoolRules('python-api', FIXTURE);
});
afterAll(async () => {
  await promtool?.cleanup();
});

describe('the PrometheusRule', () => {
  it('passes promtool check rules, lint included', async () => {
    const result = await promtool.check();
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/SUCCESS: 8 rules found/);
    expect(result.code).toBe(0);
  });

  it('has the alerts the issue lists', () => {
    expect([...promtool.alerts].sort()).toEqual(
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
    expect(promtool.alertsNotProven()).toEqual([]);
  });

  it('pass under promtool test rules', async () => {
    const result = await promtool.test();
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
    expect(result.code).toBe(0);
  });

  it('would catch a broken threshold (the tests can fail)', async () => {
    const result = await promtool.test(
      withBrokenExpression(promtool.rules, 'PostgresConnectionsNearLimit', '> 0.8', '> 0.95'),
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/PostgresConnectionsNearLimit/);
  });
});
