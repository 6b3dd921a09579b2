/**
 * `npm run db:migrate`: applies apps/api/prisma/migrations to DATABASE_URL exactly as the tests
 * do, recording them in _prisma_migrations so `prisma migrate deploy` agrees with the result.
 */
import { applyMigrations } from './migrations.js';

const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write('DATABASE_URL: required (the database to migrate)\n');
  process.exit(1);
}
const applied = await applyMigrations(url);
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database already up to date');
