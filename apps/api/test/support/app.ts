import { Writable } from 'node:stream';
import type { Express } from 'express';
import type pg from 'pg';
import { createApp } from '../../src/app.js';
import { loadConfig, requireDatabaseUrl, type ServerConfig } from '../../src/config/config.js';
import { createPool } from '../../src/db/pool.js';
import { createPrismaClient, type Database } from '../../src/db/prisma.js';
import type { Lifecycle } from '../../src/http/health.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface TestApp {
  app: Express;
  config: ServerConfig;
  db: Database;
  pool: pg.Pool;
  metrics: Metrics;
  lifecycle: Lifecycle;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Test configuration: defaults plus overrides, never the machine's environment or files. */
export function testConfig(databaseUrl: string, overrides: Record<string, string> = {}): ServerConfig {
  return requireDatabaseUrl(
    loadConfig({
      env: { NODE_ENV: 'test', LOG_LEVEL: 'debug', DATABASE_URL: databaseUrl, ...overrides },
      secretsDir: '/nonexistent',
      configDir: '/nonexistent',
    }),
  );
}

/** The real app (real pool, real Prisma, real PostgreSQL) without a listening socket. */
export function buildTestApp(databaseUrl: string, overrides: Record<string, string> = {}): TestApp {
  const config = testConfig(databaseUrl, overrides);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger(config.LOG_LEVEL, sink);
  const pool = createPool(config, logger);
  const db = createPrismaClient(pool);
  const metrics = createMetrics(pool);
  const lifecycle: Lifecycle = { shuttingDown: false };
  const app = createApp({ config, db, pool, logger, metrics, lifecycle, version: '1.2.3-test' });
  return {
    app,
    config,
    db,
    pool,
    metrics,
    lifecycle,
    logs,
    async close() {
      await db.$disconnect();
      await pool.end();
    },
  };
}

/** A test file's own database (cloned from the migrated template) and the app on it. */
export async function openTestApp(
  overrides: Record<string, string> = {},
): Promise<{ database: TestDatabase; api: TestApp }> {
  const database = await createTestDatabase();
  return { database, api: buildTestApp(database.url, overrides) };
}

export async function closeTestApp({ database, api }: { database: TestDatabase; api: TestApp }): Promise<void> {
  await api.close();
  await database.drop();
}
