import { defineConfig } from 'prisma/config';

// Used by the Prisma CLI only (generate, migrate deploy); the running API builds its own
// pg Pool from the validated configuration. `prisma generate` needs no database, so the
// URL may be absent then; `migrate deploy` fails with a clear message if it is.
export default defineConfig({
  schema: 'apps/api/prisma/schema.prisma',
  migrations: {
    path: 'apps/api/prisma/migrations',
    seed: 'node --import tsx apps/api/src/db/seed.ts',
  },
  datasource: {
    url: process.env.DATABASE_URL,
  },
});
