import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../../../tests/support/wait.js';
import { startServerProcess } from './support/server-process.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});

/** Shutdown steps take milliseconds: poll often, give up after seconds. */
const PROMPTLY = { timeoutMs: 10_000, intervalMs: 50 };

/** Takes an exclusive lock on the items table, so the next item request blocks inside PostgreSQL. */
async function lockItems() {
  const locker = await database.sql.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
  return locker;
}

/** Resolves once a request of the server is provably in flight: waiting on that lock. */
function requestBlockedOnLock() {
  return waitFor(
    'the request to wait on the lock',
    async () => {
      const waiting = await database.sql.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = 'python-api' AND wait_event_type = 'Lock'`,
      );
      return Boolean(waiting.rowCount);
    },
    PROMPTLY,
  );
}

describe('SIGTERM', () => {
  it('fails readiness at once, lets the request in flight finish with 200, then exits 0', async () => {
    const { rows } = await database.sql.query(`INSERT INTO items (name) VALUES ('in flight') RETURNING id`);
    const id = rows[0].id as number;
    const server = await startServerProcess({ DATABASE_URL: database.url, SHUTDOWN_DELAY_MS: '1500' });
    const base = `http://127.0.0.1:${server.port}`;

    // Hold a lock so the request is provably inside the server, waiting on PostgreSQL.
    const locker = await lockItems();
    const inFlight = fetch(`${base}/api/items/${id}`);
    await requestBlockedOnLock();

    server.child.kill('SIGTERM');
    await waitFor('readiness 503', async () => (await fetch(`${base}/health/ready`)).status === 503, PROMPTLY);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);

    await locker.query('COMMIT');
    locker.release();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id, name: 'in flight' });

    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.logs.find((l) => l.msg === 'stopped')).toMatchObject({ graceful: true });
    await expect(fetch(`${base}/health/live`)).rejects.toThrow();
  });

  it('exits at once on a second signal', async () => {
    const server = await startServerProcess({ DATABASE_URL: database.url, SHUTDOWN_DELAY_MS: '60000' });
    server.child.kill('SIGTERM');
    await waitFor('the signal log line', () => server.logs.some((l) => l.msg === 'signal received'), PROMPTLY);
    server.child.kill('SIGINT');
    expect(await server.exited).toEqual({ code: 1, signal: null });
  });

  it('cuts remaining connections and exits 1 when SHUTDOWN_TIMEOUT_MS runs out', async () => {
    const server = await startServerProcess({
      DATABASE_URL: database.url,
      SHUTDOWN_DELAY_MS: '0',
      SHUTDOWN_TIMEOUT_MS: '1000',
      DB_STATEMENT_TIMEOUT_MS: '30000',
    });
    const locker = await lockItems();
    try {
      const stuck = fetch(`http://127.0.0.1:${server.port}/api/items/1`).catch((error: Error) => error);
      await requestBlockedOnLock();
      server.child.kill('SIGTERM');
      const outcome = await server.exited;
      expect(outcome.code).toBe(1);
      // The client saw its connection cut, not a response.
      expect(await stuck).toMatchObject({ message: 'fetch failed' });
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
  });
});
