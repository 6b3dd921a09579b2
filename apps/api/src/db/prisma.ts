import { createHash } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import type pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';

export type Database = PrismaClient;

const statementNames = new Map<string, string>();

/**
 * Names each distinct SQL text so pg prepares it once per connection and PostgreSQL skips
 * parsing and planning on every later call (measured: about a quarter less CPU and latency per
 * query; see docs/api.md). The app issues a handful of distinct statements, so the caches stay
 * small; the map is capped anyway.
 */
function statementName(query: { sql: string }): string {
  let name = statementNames.get(query.sql);
  if (name === undefined) {
    name = `p_${createHash('sha1').update(query.sql).digest('hex').slice(0, 24)}`;
    if (statementNames.size < 1000) statementNames.set(query.sql, name);
  }
  return name;
}

/** A Prisma client on the app's own pool; ending the pool stays the caller's job. */
export function createPrismaClient(pool: pg.Pool): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(pool, { statementNameGenerator: statementName }) });
}
