import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Writable } from 'node:stream';
import pg from 'pg';
import { waitFor } from '../../../tests/support/wait.js';
import { applyMigrations } from '../src/db/migrations.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/dev/embedded-postgres.js';
import { createLogger } from '../src/observability/logger.js';
import { startService, type Service } from '../src/service.js';
import { testConfig } from './support/app.js';

// This file runs its own PostgreSQL, because it stops and restarts it.
jest.setTimeout(90_000);

let dataDir: string;
let postgres: EmbeddedDatabase;
let service: Service;
let base: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'api-outage-pg-'));
  postgres = await startEmbeddedPostgres({ dataDir, ephemeral: true });
  await applyMigrations(postgres.url());
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  const config = testConfig(postgres.url(), {
    PORT: '0',
    METRICS_PORT: '0',
    SHUTDOWN_DELAY_MS: '0',
    DB_CONNECTION_TIMEOUT_MS: '1000',
  });
  service = await startService(config, createLogger('info', quiet));
  base = `http://127.0.0.1:${service.port}`;
});
afterAll(async () => {
  await service?.shutdown();
  await postgres?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const countRows = async () => {
  const client = new pg.Client({ connectionString: postgres.url() });
  await client.connect();
  try {
    return Number((await client.query('SELECT count(*) AS n FROM items')).rows[0].n);
  } finally {
    await client.end();
  }
};

describe('when the database goes away and comes back', () => {
  it('degrades to 503 (API and readiness) while liveness stays 200, then recovers by itself', async () => {
    const created = await fetch(`${base}/api/items`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'survivor' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };

    await postgres.stop();

    const read = await fetch(`${base}/api/items/${id}`, { signal: AbortSignal.timeout(15_000) });
    expect(read.status).toBe(503);
    expect(read.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(read.headers.get('retry-after')).toBe('5');
    const problem = (await read.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({ status: 503, type: 'urn:python-api:problem:database-unavailable' });
    expect(JSON.stringify(problem)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres/);

    const write = await fetch(`${base}/api/items`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'lost?' }),
      signal: AbortSignal.timeout(15_000),
    });
    expect(write.status).toBe(503);

    const ready = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(15_000) });
    expect(ready.status).toBe(503);
    const health = await fetch(`${base}/health`, { signal: AbortSignal.timeout(15_000) });
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'fail', checks: { database: { status: 'fail' } } });
    expect((await fetch(`${base}/health/live`)).status).toBe(200);

    await postgres.start();

    await waitFor('readiness to recover', async () => (await fetch(`${base}/health/ready`)).status === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const again = await fetch(`${base}/api/items/${id}`);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id, name: 'survivor' });
    // The write attempted during the outage did not half-happen.
    expect(await countRows()).toBe(1);
  });
});
