// The API's monitoring objects: the dashboard is valid and wired to the provisioned data sources,
// and every metric an alert or a panel queries exists. The API's own metrics are proven against
// the real API (started on an embedded PostgreSQL, scraped on its metrics port); exporter
// metrics are proven as far as this machine allows (see EXPORTER_METRICS).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { find, type KubeObject } from '../support/kube-apiserver.js';
import { REPO_ROOT } from '../support/tools.js';
import { startRealApi, type RealApi } from '../support/real-api.js';
import { readYaml, render } from '../support/repository.js';

jest.setTimeout(180_000);

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; datasource?: { uid: string } }[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string }[] };
}

const dashboard = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'gitops/monitoring/python-api/dashboards/python-api.json'), 'utf8'),
) as Dashboard;

/** Metric names in a PromQL expression: identifiers directly followed by a label matcher. */
const metricNames = (expr: string) => [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!);

async function alertExpressions(): Promise<{ alert: string; expr: string }[]> {
  const rule = find(await render('gitops/monitoring/python-api'), 'PrometheusRule', 'python-api') as KubeObject & {
    spec: { groups: { rules: { alert: string; expr: string }[] }[] };
  };
  return rule.spec.groups.flatMap((g) => g.rules);
}
const panelExpressions = () =>
  dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, uid: t.datasource?.uid ?? p.datasource?.uid, expr: t.expr })),
  );

/** Every metric name an alert or a Prometheus panel queries. */
async function queriedMetricNames(): Promise<Set<string>> {
  return new Set([
    ...(await alertExpressions()).flatMap((r) => metricNames(r.expr)),
    ...panelExpressions()
      .filter((p) => p.uid === 'prometheus')
      .flatMap((p) => metricNames(p.expr)),
  ]);
}

/**
 * Exporter metrics this machine cannot scrape (no cluster, and the exporters' Go modules are not
 * served by the module proxy here): each name with where it comes from. The PostgreSQL ones are
 * backed below by the catalog columns the exporter reads, on a real PostgreSQL server.
 */
const EXPORTER_METRICS: Record<string, string> = {
  up: 'Prometheus itself, one series per scrape target',
  pg_up: 'postgres_exporter: 1 when its last query to PostgreSQL succeeded',
  pg_stat_database_numbackends: 'postgres_exporter stat_database collector: pg_stat_database.numbackends',
  pg_settings_max_connections: 'postgres_exporter settings collector: pg_settings max_connections',
  pg_database_size_bytes: 'postgres_exporter database collector: pg_database_size(datname)',
  kube_pod_container_status_restarts_total: 'kube-state-metrics (pod metrics)',
  kube_deployment_status_replicas_unavailable: 'kube-state-metrics (deployment metrics)',
  kube_deployment_status_replicas_available: 'kube-state-metrics (deployment metrics)',
  kube_deployment_spec_replicas: 'kube-state-metrics (deployment metrics)',
  kube_horizontalpodautoscaler_status_current_replicas: 'kube-state-metrics (horizontalpodautoscaler metrics)',
  kube_horizontalpodautoscaler_status_desired_replicas: 'kube-state-metrics (horizontalpodautoscaler metrics)',
  kube_horizontalpodautoscaler_spec_max_replicas: 'kube-state-metrics (horizontalpodautoscaler metrics)',
  kube_pod_container_resource_requests: 'kube-state-metrics (pod metrics)',
  kube_cronjob_status_last_successful_time: 'kube-state-metrics (cronjob metrics): status.lastSuccessfulTime',
  kube_job_status_failed: 'kube-state-metrics (job metrics)',
  kube_job_status_succeeded: 'kube-state-metrics (job metrics)',
  kube_pod_container_resource_limits: 'kube-state-metrics (pod metrics)',
  container_cpu_usage_seconds_total: 'cAdvisor in the kubelet (kube-prometheus-stack scrapes /metrics/cadvisor)',
  container_memory_working_set_bytes: 'cAdvisor in the kubelet',
  kubelet_volume_stats_available_bytes: 'kubelet volume stats (CSI and block-backed volumes)',
  kubelet_volume_stats_capacity_bytes: 'kubelet volume stats',
  kubelet_volume_stats_used_bytes: 'kubelet volume stats',
};

describe('the log collector', () => {
  it("the alloy Application's description says how the values run Alloy (controller type, log source)", () => {
    const values = readYaml<{ controller: { type: string }; alloy: { configMap: { content: string } } }>(
      'gitops/monitoring/values/alloy.yaml',
    );
    const header = readFileSync(path.join(REPO_ROOT, 'gitops/apps/platform/monitoring/alloy.yaml'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('#'))
      .join(' ');
    const kind = { deployment: 'Deployment', daemonset: 'DaemonSet', statefulset: 'StatefulSet' }[
      values.controller.type
    ];
    const readsFromApi = values.alloy.configMap.content.includes('loki.source.kubernetes ');
    // The first workload kind the comment names is the one it runs as.
    expect({
      runsAs: header.match(/DaemonSet|Deployment|StatefulSet/)?.[0],
      source: /Kubernetes API/.test(header) ? 'api' : /log files/.test(header) ? 'files' : 'unsaid',
    }).toEqual({ runsAs: kind, source: readsFromApi ? 'api' : 'files' });
  });

  it('docs/monitoring.md names the chart versions the Applications pin', async () => {
    const docs = readFileSync(path.join(REPO_ROOT, 'docs/monitoring.md'), 'utf8');
    for (const name of ['kube-prometheus-stack', 'loki', 'alloy']) {
      const app = readYaml<{ spec: { sources: { chart?: string; targetRevision: string }[] } }>(
        `gitops/apps/platform/monitoring/${name}.yaml`,
      );
      const chart = app.spec.sources.find((s) => s.chart === name);
      expect([name, docs.includes(`\`${name}\` ${chart?.targetRevision} |`)]).toEqual([name, true]);
    }
  });
});

describe('the Grafana dashboard', () => {
  it('is valid dashboard JSON with a stable uid the Application links point to', async () => {
    expect(dashboard.uid).toBe('python-api');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const apps = await render('gitops/apps/dev');
    const link = (find(apps, 'Application', 'python-api-dev').metadata.annotations as Record<string, string>)[
      'link.argocd.argoproj.io/grafana'
    ];
    expect(link).toContain(`/d/${dashboard.uid}/`);
  });

  it('lays panels out without overlaps on the 24-column grid', () => {
    const cells = new Set<string>();
    for (const { gridPos: g, title } of dashboard.panels) {
      expect([title, g.x + g.w <= 24]).toEqual([title, true]);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect([title, cells.has(`${x},${y}`)]).toEqual([title, false]);
          cells.add(`${x},${y}`);
        }
    }
  });

  it('shows every view the issue asks for', () => {
    const exprs = panelExpressions()
      .map((p) => p.expr)
      .join('\n');
    for (const needle of [
      'http_request_duration_seconds_count', // request rate and errors
      'status_code=~"5.."',
      'histogram_quantile(0.99',
      'kube_deployment_status_replicas_available',
      'kube_pod_container_resource_requests{namespace="$namespace", container="api", resource="cpu"}',
      'kube_pod_container_resource_requests{namespace="$namespace", container="api", resource="memory"}',
      'pg_stat_database_numbackends',
      'pg_database_size_bytes',
      '{namespace="$namespace", container="api"}', // the API's logs
    ])
      expect(exprs).toContain(needle);
  });

  it('queries only the data sources kube-prometheus-stack provisions, by uid', () => {
    const values = readYaml<{
      grafana: {
        sidecar: { datasources: { uid: string } };
        additionalDataSources: { uid: string; type: string; url: string }[];
      };
    }>('gitops/monitoring/values/kube-prometheus-stack.yaml');
    const provisioned = new Set([
      values.grafana.sidecar.datasources.uid,
      ...values.grafana.additionalDataSources.map((d) => d.uid),
    ]);
    for (const { panel, uid } of panelExpressions()) expect([panel, provisioned.has(uid ?? '')]).toEqual([panel, true]);
    // Loki's data source points at the Service the Loki chart creates in single-binary mode.
    expect(values.grafana.additionalDataSources).toContainEqual(
      expect.objectContaining({ uid: 'loki', type: 'loki', url: 'http://loki.monitoring.svc.cluster.local:3100' }),
    );
  });

  it('asks Loki for the labels Alloy attaches', () => {
    const alloy = readYaml<{ alloy: { configMap: { content: string } } }>('gitops/monitoring/values/alloy.yaml').alloy
      .configMap.content;
    const logQueries = dashboard.panels.filter((p) => p.datasource?.uid === 'loki').flatMap((p) => p.targets ?? []);
    expect(logQueries.length).toBeGreaterThan(0);
    for (const { expr } of logQueries) {
      for (const [, label] of expr.matchAll(/([a-z_]+)=/g)) expect(alloy).toContain(`target_label  = "${label}"`);
    }
    expect(alloy).toContain('url = "http://loki.monitoring.svc.cluster.local:3100/loki/api/v1/push"');
  });

  it('is shipped as a ConfigMap the Grafana sidecar picks up', async () => {
    const values = readYaml<{ grafana: { sidecar: { dashboards: { label: string; labelValue: string } } } }>(
      'gitops/monitoring/values/kube-prometheus-stack.yaml',
    );
    const cm = find(await render('gitops/monitoring/python-api'), 'ConfigMap', 'python-api-dashboard') as KubeObject & {
      data: Record<string, string>;
    };
    expect(cm.metadata.namespace).toBe('monitoring');
    expect((cm.metadata.labels as Record<string, string>)[values.grafana.sidecar.dashboards.label]).toBe(
      values.grafana.sidecar.dashboards.labelValue,
    );
    expect(JSON.parse(cm.data['python-api.json']!)).toEqual(dashboard);
  });
});

describe('every metric the alerts and the dashboard query', () => {
  let scraped = '';
  let api: RealApi | undefined;
  let catalog: { numbackends: boolean; maxConnections: number; databaseSize: number } | undefined;

  beforeAll(async () => {
    // The real API on a real PostgreSQL, as `npm start` runs it; then real traffic.
    api = await startRealApi();
    const created = await fetch(`${api.url}/api/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'probe' }),
    });
    expect([201, 400]).toContain(created.status);
    expect((await fetch(`${api.url}/api/items`)).status).toBe(200);
    expect((await fetch(`${api.url}/api/items/00000000-0000-0000-0000-000000000000`)).status).toBeGreaterThanOrEqual(
      400,
    );
    const metrics = await fetch(`${api.metricsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    scraped = await metrics.text();

    // What postgres_exporter reads, on the same real server.
    const client = new pg.Client({ connectionString: api.databaseUrl });
    await client.connect();
    try {
      const columns = await client.query(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'pg_stat_database' AND column_name = 'numbackends'",
      );
      const setting = await client.query("SELECT setting FROM pg_settings WHERE name = 'max_connections'");
      const size = await client.query('SELECT pg_database_size(current_database()) AS bytes');
      catalog = {
        numbackends: columns.rowCount === 1,
        maxConnections: Number(setting.rows[0].setting),
        databaseSize: Number(size.rows[0].bytes),
      };
    } finally {
      await client.end();
    }
  });

  afterAll(async () => {
    await api?.stop();
  });

  /** Series names in the API's exposition, histogram suffixes included. */
  const exposed = () => new Set([...scraped.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )/gm)].map((m) => m[1]!));

  it("exist in the real API's /metrics output when they are the API's", async () => {
    const names = await queriedMetricNames();
    const api = [...names].filter((name) => !(name in EXPORTER_METRICS));
    expect(api.sort()).toEqual(
      [
        'db_pool_connections_idle',
        'db_pool_connections_total',
        'db_pool_requests_waiting',
        'http_request_duration_seconds_bucket',
        'http_request_duration_seconds_count',
      ].sort(),
    );
    for (const name of api) expect([name, exposed().has(name)]).toEqual([name, true]);
    // The labels the queries filter and group on are the ones the histogram carries.
    expect(scraped).toMatch(
      /http_request_duration_seconds_count\{[^}]*method="GET"[^}]*route="[^"]+"[^}]*status_code="200"/,
    );
  });

  it('come from a named exporter otherwise, and the PostgreSQL ones read catalog data that exists', async () => {
    const names = await queriedMetricNames();
    const fromExporters = [...names].filter((name) => !exposed().has(name));
    for (const name of fromExporters)
      expect([name, EXPORTER_METRICS[name] ?? 'unknown source']).not.toEqual([name, 'unknown source']);
    expect(catalog).toEqual({
      numbackends: true,
      maxConnections: expect.any(Number),
      databaseSize: expect.any(Number),
    });
    expect(catalog!.maxConnections).toBeGreaterThan(0);
    expect(catalog!.databaseSize).toBeGreaterThan(0);
  });
});
