import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startService, type Service } from '../src/service.js';
import { createLogger } from '../src/observability/logger.js';
import { Writable } from 'node:stream';
import { closeTestApp, openTestApp, testConfig, type TestApp } from './support/app.js';
import type { TestDatabase } from './support/database.js';

let database: TestDatabase;
let api: TestApp;

beforeAll(async () => ({ database, api } = await openTestApp()));
afterAll(() => closeTestApp({ database, api }));

const durationSamples = async () =>
  (await api.metrics.registry.getSingleMetricAsString('http_request_duration_seconds'))
    .split('\n')
    .filter((line) => line.startsWith('http_request_duration_seconds_count'));

describe('request metrics', () => {
  it('count requests by method, route template (never the raw URL) and status code', async () => {
    await request(api.app).get('/api/items/424242').expect(404);
    await request(api.app).get('/api/items/434343').expect(404);
    await request(api.app).post('/api/items').send({ name: 'm' }).expect(201);
    await request(api.app).get('/no/such/route').expect(404);

    const samples = await durationSamples();
    expect(samples).toContain(
      'http_request_duration_seconds_count{method="GET",route="/api/items/:id",status_code="404"} 2',
    );
    expect(samples).toContain(
      'http_request_duration_seconds_count{method="POST",route="/api/items",status_code="201"} 1',
    );
    expect(samples).toContain(
      'http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"} 1',
    );
    expect(samples.join('\n')).not.toContain('424242');
  });

  it('do not count health probes', async () => {
    await request(api.app).get('/health').expect(200);
    await request(api.app).get('/health/live').expect(200);
    await request(api.app).get('/health/ready').expect(200);
    expect((await durationSamples()).join('\n')).not.toContain('/health');
  });

  it('include the pg pool gauges and the prom-client default metrics', async () => {
    await request(api.app).get('/api/items').expect(200);
    const text = await api.metrics.registry.metrics();
    expect(text).toMatch(/^db_pool_connections_total [1-9]\d*$/m);
    expect(text).toMatch(/^db_pool_connections_idle \d+$/m);
    expect(text).toMatch(/^db_pool_requests_waiting 0$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });
});

describe('metrics endpoint', () => {
  let service: Service;
  const lines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const config = testConfig(database.url, { PORT: '0', METRICS_PORT: '0', SHUTDOWN_DELAY_MS: '0' });
    service = await startService(config, createLogger('info', sink));
  });
  afterAll(async () => {
    await service.shutdown();
  });

  it('serves /metrics on the metrics port only, never on the public port', async () => {
    const metrics = await request(`http://127.0.0.1:${service.metricsPort}`).get('/metrics').expect(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/);
    expect(metrics.text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(metrics.text).toContain('# TYPE db_pool_connections_total gauge');
    await request(`http://127.0.0.1:${service.port}`).get('/metrics').expect(404);
  });

  it('logs its configuration at start with DATABASE_URL redacted', () => {
    const started = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'listening');
    expect(started.config.DATABASE_URL).toBe('[REDACTED]');
    expect(lines.join('\n')).not.toContain(database.url);
  });
});

describe('request logs', () => {
  const logFor = (requestId: string) =>
    api.logs.filter((l) => (l.req as { id?: string } | undefined)?.id === requestId);

  it('write one JSON line per request with id, method, route, status and latency', async () => {
    await request(api.app).get('/api/items?limit=1').set('X-Request-Id', 'log-ok-1').expect(200);
    const lines = logFor('log-ok-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      req: { id: 'log-ok-1', method: 'GET', url: '/api/items?limit=1' },
      route: '/api/items',
      res: { statusCode: 200 },
      responseTime: expect.any(Number),
      service: 'python-api',
    });
  });

  it('log 4xx at warn and 5xx at error', async () => {
    await request(api.app).get('/api/items/0').set('X-Request-Id', 'log-400').expect(400);
    expect(logFor('log-400')[0]).toMatchObject({ level: 'warn', res: { statusCode: 400 } });
  });

  it('log health probes below info', async () => {
    await request(api.app).get('/health/live').set('X-Request-Id', 'log-probe').expect(200);
    expect(logFor('log-probe')[0]).toMatchObject({ level: 'debug' });
  });

  it('never write credentials', async () => {
    await request(api.app)
      .get('/api/items')
      .set('X-Request-Id', 'log-secret')
      .set('Authorization', 'Bearer top-secret-token')
      .set('Cookie', 'session=top-secret-cookie')
      .expect(200);
    const text = JSON.stringify(api.logs);
    expect(text).not.toContain('top-secret');
    expect(text).not.toContain(database.url);
  });
});
