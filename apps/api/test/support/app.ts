import { Writable } from 'node:stream';
import { configFromSettings, type ServerConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { composeApi, type ComposedApi } from '../../src/service.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface TestApp extends ComposedApi {
  config: ServerConfig;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
}

/** Test configuration: defaults plus overrides, never the machine's environment or files. */
export function testConfig(databaseUrl: string, overrides: Record<string, string> = {}): ServerConfig {
  return configFromSettings({ NODE_ENV: 'test', LOG_LEVEL: 'debug', DATABASE_URL: databaseUrl, ...overrides });
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
  const api = composeApi(config, createLogger(config.LOG_LEVEL, sink), '1.2.3-test');
  return { ...api, config, logs };
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
