// The real API on a real (embedded) PostgreSQL with the migrations applied, as `npm start` runs it,
// for the suites that scrape or query it (monitoring, dashboards). Built by the API's own
// composition root (apps/api/src/service.ts), like the server and the API tests.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { configFromSettings } from '../../apps/api/src/config/config.js';
import { applyMigrations } from '../../apps/api/src/db/migrations.js';
import { startEmbeddedPostgres } from '../../apps/api/src/dev/embedded-postgres.js';
import { createDatabaseIfMissing } from '../../apps/api/src/dev/local-database.js';
import { createLogger } from '../../apps/api/src/observability/logger.js';
import { startService } from '../../apps/api/src/service.js';

export interface RealApi {
  /** http://127.0.0.1:<port> of the API. */
  readonly url: string;
  /** http://127.0.0.1:<port> of its metrics listener (/metrics). */
  readonly metricsUrl: string;
  /** The connection string of its database on the embedded PostgreSQL. */
  readonly databaseUrl: string;
  stop(): Promise<void>;
}

export async function startRealApi(): Promise<RealApi> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'real-api-pg-'));
  const database = await startEmbeddedPostgres({ dataDir, ephemeral: true });
  await createDatabaseIfMissing(database.url(), 'items');
  await applyMigrations(database.url('items'));
  const config = configFromSettings({
    NODE_ENV: 'test',
    DATABASE_URL: database.url('items'),
    PORT: '0',
    METRICS_PORT: '0',
    SHUTDOWN_DELAY_MS: '0',
  });
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  const service = await startService(config, createLogger('silent', quiet));
  return {
    url: `http://127.0.0.1:${service.port}`,
    metricsUrl: `http://127.0.0.1:${service.metricsPort}`,
    databaseUrl: database.url('items'),
    stop: async () => {
      await service.shutdown();
      await database.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
