// The Grafana dashboard's API panels, answered by a real Prometheus (the pinned build) that scrapes
// the real API while it serves traffic: every query parses, selects the series the API exposes
// with the labels a ServiceMonitor target carries, and returns numbers, so the panels are not
// empty on a cluster. (Panels on kube-state-metrics, cAdvisor and postgres_exporter series need
// those exporters, which do not run here; monitoring.test.ts names where each comes from.)
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, sleep, spawnLogged, stopProcess, tail } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { REPO_ROOT, tool } from '../support/tools.js';
import { startRealApi, type RealApi } from '../support/real-api.js';

jest.setTimeout(180_000);

interface Target {
  expr: string;
  legendFormat?: string;
  datasource?: { uid: string };
}
interface Panel {
  title: string;
  datasource?: { uid: string };
  targets?: Target[];
}

const dashboard = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'gitops/monitoring/python-api/dashboards/python-api.json'), 'utf8'),
) as { panels: Panel[] };

const NAMESPACE = 'python-api-ns';
// Scraped every second here (30 s in the cluster). Grafana's $__rate_interval is at least four
// scrape intervals; 8 s keeps several samples in every window.
const SCRAPE_INTERVAL = '1s';
const RATE_INTERVAL = '8s';
// The API's own series; the rest come from exporters.
const API_METRIC = /\b(http_request_duration_seconds|db_pool)_\w+\{/;

let api: RealApi;
let prometheus: ChildProcess | undefined;
let prometheusUrl = '';
let dir = '';

interface QueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(expr: string): Promise<QueryResult> {
  const answer = await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  return (await answer.json()) as QueryResult;
}

/** The expression as Grafana sends it for this dashboard's `namespace` variable. */
const grafanaExpr = (expr: string) =>
  expr.replaceAll('$namespace', NAMESPACE).replaceAll('$__rate_interval', RATE_INTERVAL);

const apiTargets = () =>
  dashboard.panels.flatMap((panel) =>
    (panel.targets ?? [])
      .filter((t) => (t.datasource?.uid ?? panel.datasource?.uid) === 'prometheus' && API_METRIC.test(t.expr))
      .map((t) => ({ panel: panel.title, legend: t.legendFormat ?? '', expr: t.expr })),
  );

/** A few seconds of what users do: reads, writes, a missing item, a bad request. */
async function traffic(seconds: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  let n = 0;
  while (Date.now() < until) {
    n += 1;
    const created = await fetch(`${api.url}/api/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `item ${n}` }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };
    expect((await fetch(`${api.url}/api/items/${id}`)).status).toBe(200);
    expect((await fetch(`${api.url}/api/items?limit=5`)).status).toBe(200);
    expect((await fetch(`${api.url}/api/items/2147483647`)).status).toBe(404);
    const bad = await fetch(`${api.url}/api/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '' }),
    });
    expect(bad.status).toBe(400);
    await sleep(100);
  }
}

beforeAll(async () => {
  api = await startRealApi();
  dir = await mkdtemp(path.join(os.tmpdir(), 'prometheus-'));
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  const metrics = new URL(api.metricsUrl);
  // The target labels prometheus-operator gives a ServiceMonitor endpoint (job = the Service).
  await writeFile(
    path.join(dir, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: SCRAPE_INTERVAL, evaluation_interval: SCRAPE_INTERVAL },
      scrape_configs: [
        {
          job_name: `serviceMonitor/${NAMESPACE}/python-api/0`,
          metrics_path: '/metrics',
          static_configs: [
            {
              targets: [metrics.host],
              labels: {
                job: 'app-service',
                namespace: NAMESPACE,
                service: 'app-service',
                endpoint: 'metrics',
                pod: 'python-api-5d8f7c9b6-x2x7q',
                container: 'api',
              },
            },
          ],
        },
      ],
    }),
  );
  const log = path.join(dir, 'prometheus.log');
  const server = spawnLogged(
    tool('prometheus'),
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    log,
  );
  prometheus = server;

  // Ready, and scraping the API.
  await waitFor(
    'prometheus to scrape the API',
    async () => (await query(`up{namespace="${NAMESPACE}"}`)).data?.result[0]?.value[1] === '1',
    { timeoutMs: 60_000, abortIf: () => (server.exitCode === null ? undefined : `prometheus exited: ${tail(log)}`) },
  );
  await traffic(10);
});

afterAll(async () => {
  await stopProcess(prometheus);
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the dashboard's API panels on a real Prometheus scraping the real API", () => {
  it('are the request, error, latency and connection-pool panels', () => {
    expect([...new Set(apiTargets().map((t) => t.panel))]).toEqual([
      'Request rate by route',
      'Error ratio (5xx)',
      'Latency percentiles',
      'Connections',
    ]);
  });

  it.each(apiTargets().map((t) => [`${t.panel}: ${t.legend || t.expr}`, t.expr]))(
    'return numbers: %s',
    async (_name, expr) => {
      const result = await query(grafanaExpr(expr));
      expect(result.error).toBeUndefined();
      expect(result.status).toBe('success');
      const values = (result.data?.result ?? []).map((sample) => Number(sample.value[1]));
      expect(values.length).toBeGreaterThan(0);
      for (const value of values) expect(Number.isFinite(value)).toBe(true);
    },
  );

  it('break the request rate down by the routes that were called', async () => {
    const target = apiTargets().find((t) => t.panel === 'Request rate by route')!;
    const result = await query(grafanaExpr(target.expr));
    const routes = (result.data?.result ?? []).map((sample) => sample.metric.route).sort();
    expect(routes).toEqual(expect.arrayContaining(['/api/items', '/api/items/:id']));
  });

  it('show a 5xx ratio of 0 when nothing failed, and the 4xx ratio of the bad requests', async () => {
    const [server, client] = apiTargets()
      .filter((t) => t.panel === 'Error ratio (5xx)')
      .map(async (t) => Number((await query(grafanaExpr(t.expr))).data?.result[0]?.value[1]));
    expect(await server).toBe(0);
    // Two of the five requests in each round are 4xx (the missing item and the bad body).
    expect(await client).toBeGreaterThan(0.2);
    expect(await client).toBeLessThan(0.6);
  });
});
