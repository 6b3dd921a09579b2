import type { Express, Response } from 'express';
import type pg from 'pg';
import { pingDatabase } from '../db/pool.js';

/** Long enough for a healthy database under load, short enough for a 1–2 s probe timeout. */
export const HEALTH_DB_TIMEOUT_MS = 1_000;

export interface Lifecycle {
  /** Set on SIGTERM: readiness fails at once so the endpoint is removed before the listener closes. */
  shuttingDown: boolean;
}

const HEALTH_TYPE = 'application/health+json';

export function registerHealthRoutes(app: Express, pool: pg.Pool, lifecycle: Lifecycle, version: string): void {
  const startedAt = Date.now();

  const report = async () => {
    const base = { version, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) };
    try {
      const latencyMs = Math.round((await pingDatabase(pool, HEALTH_DB_TIMEOUT_MS)) * 10) / 10;
      return { status: 'pass' as const, ...base, checks: { database: { status: 'pass' as const, latencyMs } } };
    } catch {
      // Never the driver's message: it could name hosts or users.
      const output = 'database did not answer';
      return { status: 'fail' as const, ...base, checks: { database: { status: 'fail' as const, output } } };
    }
  };

  const send = (res: Response, status: number, body: object) => {
    res.status(status).type(HEALTH_TYPE).setHeader('Cache-Control', 'no-store');
    res.send(JSON.stringify(body));
  };

  const sendReport = async (res: Response) => {
    const body = await report();
    send(res, body.status === 'pass' ? 200 : 503, body);
  };

  app.get('/health', (_req, res) => sendReport(res));

  app.get('/health/live', (_req, res) => {
    send(res, 200, { status: 'pass', version });
  });

  app.get('/health/ready', async (_req, res) => {
    if (lifecycle.shuttingDown) {
      send(res, 503, { status: 'fail', version, output: 'shutting down' });
      return;
    }
    await sendReport(res);
  });
}
