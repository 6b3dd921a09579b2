/**
 * `npm run db:migrate`: applies apps/api/prisma/migrations to DATABASE_URL exactly as the tests
 * do, recording them in _prisma_migrations so `prisma migrate deploy` agrees with the result.
 */
import { loadServerConfigOrExit } from '../config/config.js';
import { applyMigrations } from './migrations.js';

// The same sources as the server (Secret files > environment > ConfigMap files).
const { DATABASE_URL } = loadServerConfigOrExit();
const applied = await applyMigrations(DATABASE_URL);
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database already up to date');
