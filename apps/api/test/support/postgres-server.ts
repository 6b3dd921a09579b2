import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations } from '../../src/db/migrations.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/dev/embedded-postgres.js';
import { databaseUrl, runStatements } from './admin.js';
import { TEMPLATE_ENV, ADMIN_URL_ENV } from './env.js';

declare global {
  var __apiTestPostgres:
    { server?: EmbeddedDatabase; dataDir?: string; adminUrl: string; template: string } | undefined;
}

/**
 * Once per Jest run: a PostgreSQL server (embedded, or TEST_DATABASE_URL's) and a template
 * database built by applying the migrations in order. Each test file clones the template.
 */
export async function startTestPostgres(): Promise<void> {
  let server: EmbeddedDatabase | undefined;
  let dataDir: string | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'api-test-pg-'));
    server = await startEmbeddedPostgres({ dataDir, ephemeral: true });
    adminUrl = server.url();
  }
  const template = `items_template_${process.pid}`;
  await runStatements(adminUrl, `DROP DATABASE IF EXISTS "${template}"`, `CREATE DATABASE "${template}"`);
  await applyMigrations(databaseUrl(adminUrl, template));

  process.env[ADMIN_URL_ENV] = adminUrl;
  process.env[TEMPLATE_ENV] = template;
  globalThis.__apiTestPostgres = { server, dataDir, adminUrl, template };
}

export async function stopTestPostgres(): Promise<void> {
  const state = globalThis.__apiTestPostgres;
  if (!state) return;
  if (state.server) {
    await state.server.stop();
    if (state.dataDir) await rm(state.dataDir, { recursive: true, force: true });
    return;
  }
  // An external server (TEST_DATABASE_URL): leave it as we found it.
  await runStatements(state.adminUrl, `DROP DATABASE IF EXISTS "${state.template}"`);
}
