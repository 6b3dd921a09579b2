import pg from 'pg';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/config.js';

/**
 * The one pg Pool of the process. Prisma runs on it through @prisma/adapter-pg, the health
 * check pings it directly, and the metrics read its counters.
 */
export function createPool(config: ServerConfig, logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.DB_POOL_MAX,
    connectionTimeoutMillis: config.DB_CONNECTION_TIMEOUT_MS,
    idleTimeoutMillis: config.DB_IDLE_TIMEOUT_MS,
    // Server-side cap on every statement, plus a client-side one for a server that stops
    // answering altogether (network partition): either way the request fails, it never hangs.
    statement_timeout: config.DB_STATEMENT_TIMEOUT_MS,
    query_timeout: config.DB_STATEMENT_TIMEOUT_MS + 1_000,
    application_name: 'python-api',
  });
  // An idle client losing its connection (database restart) emits here. Without a listener
  // the error would crash the process; the pool replaces the client on the next checkout.
  pool.on('error', (err) => {
    logger.warn(
      { err: { message: err.message, code: (err as { code?: string }).code } },
      'idle database connection lost',
    );
  });
  return pool;
}

/** Runs `SELECT 1` and reports how long it took; rejects after `timeoutMs`. */
export async function pingDatabase(pool: pg.Pool, timeoutMs: number): Promise<number> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`database did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([pool.query('SELECT 1'), timeout]);
    return performance.now() - started;
  } finally {
    clearTimeout(timer);
  }
}
