import path from 'node:path';
import pg from 'pg';
import { ConfigError, loadConfig } from '../config/config.js';
import { applyMigrations } from '../db/migrations.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';

export const LOCAL_DATABASE = 'items';

/**
 * Development convenience: when no DATABASE_URL is configured (and NODE_ENV is not production),
 * start the embedded PostgreSQL kept under .data/, apply the migrations and export DATABASE_URL.
 * "Configured" means what the server sees: a Secret file, the environment or a ConfigMap file,
 * so a pod with a mounted app-secret never starts a database of its own. Returns undefined when
 * a URL is configured, in production, or when the configuration is invalid (the server then
 * reports the offending key in one line).
 */
export async function startLocalDatabaseIfNeeded(): Promise<EmbeddedDatabase | undefined> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
  if (config.DATABASE_URL !== undefined || config.NODE_ENV === 'production') return undefined;
  const dataDir = path.resolve(process.env.LOCAL_DATA_DIR ?? '.data/postgres');
  const server = await startEmbeddedPostgres({ dataDir });
  await createDatabaseIfMissing(server.url(), LOCAL_DATABASE);
  const url = server.url(LOCAL_DATABASE);
  const applied = await applyMigrations(url);
  process.env.DATABASE_URL = url;
  // No load balancer in front of a laptop: no need to wait for endpoint propagation.
  process.env.SHUTDOWN_DELAY_MS ??= '0';
  console.log(
    JSON.stringify({
      level: 'info',
      msg: `embedded PostgreSQL on 127.0.0.1:${server.port} (no DATABASE_URL given), data in ${dataDir}`,
      migrationsApplied: applied,
    }),
  );
  return server;
}

export async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}
