import { randomBytes } from 'node:crypto';
import pg from 'pg';
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
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${process.env[TEMPLATE_ENV]}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const sql = new pg.Pool({ connectionString: url.toString(), max: 2 });
  // pool.end() resolves before closed clients' sockets are gone; DROP DATABASE ... WITH (FORCE)
  // may then terminate them, which surfaces as an 'error' event that must not crash the run.
  sql.on('error', () => undefined);
  return {
    url: url.toString(),
    sql,
    async drop() {
      await sql.end();
      const client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
