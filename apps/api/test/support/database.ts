import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseUrl, runStatements } from './admin.js';
import { ADMIN_URL_ENV, TEMPLATE_ENV } from './env.js';

export interface TestDatabase {
  url: string;
  /** A pool for arranging and asserting state directly in SQL, independent of the app. */
  sql: pg.Pool;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env[ADMIN_URL_ENV];
  if (!url) throw new Error(`${ADMIN_URL_ENV} is not set: run the API tests through the Jest config (globalSetup)`);
  return url;
}

/** A fresh database for one test file, cloned from the migrated template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `items_test_${randomBytes(6).toString('hex')}`;
  await runStatements(adminUrl(), `CREATE DATABASE "${name}" TEMPLATE "${process.env[TEMPLATE_ENV]}"`);
  const url = databaseUrl(adminUrl(), name);
  const sql = new pg.Pool({ connectionString: url, max: 2 });
  // pool.end() resolves before closed clients' sockets are gone; DROP DATABASE ... WITH (FORCE)
  // may then terminate them, which surfaces as an 'error' event that must not crash the run.
  sql.on('error', () => undefined);
  return {
    url,
    sql,
    async drop() {
      await sql.end();
      await runStatements(adminUrl(), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
