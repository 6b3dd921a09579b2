import type { Response } from 'express';
import type pg from 'pg';
import { pingDatabase } from '../db/pool.js';
import type { Routes } from './routes.js';
import { z } from './zod.js';

/** Long enough for a healthy database under load, short enough for a 1–2 s probe timeout. */
export const HEALTH_DB_TIMEOUT_MS = 1_000;

export interface Lifecycle {
  /** Set on SIGTERM: readiness fails at once so the endpoint is removed before the listener closes. */
  shuttingDown: boolean;
}

const HEALTH_TYPE = 'application/health+json';

const healthReport = z
  .object({
    status: z.enum(['pass', 'fail']),
    version: z.string(),
    uptimeSeconds: z.number(),
    checks: z.object({
      database: z.object({
        status: z.enum(['pass', 'fail']),
        latencyMs: z.number().optional(),
        output: z.string().optional(),
      }),
    }),
  })
  .openapi('Health');

/** /health/live: the process answers; no database check, so no `checks`. */
const liveness = z.object({ status: z.literal('pass'), version: z.string() }).openapi('Liveness');

/** /health/ready once shutdown has started: failing on purpose, without asking the database. */
const shuttingDown = z
  .object({ status: z.literal('fail'), version: z.string(), output: z.literal('shutting down') })
  .openapi('ShuttingDown');

const healthContent = <S extends z.ZodType>(schema: S) => ({ [HEALTH_TYPE]: { schema } });

export function registerHealthRoutes(routes: Routes, pool: pg.Pool, lifecycle: Lifecycle, version: string): void {
  const startedAt = Date.now();

  const report = async (): Promise<z.infer<typeof healthReport>> => {
    const base = { version, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) };
    try {
      const latencyMs = Math.round((await pingDatabase(pool, HEALTH_DB_TIMEOUT_MS)) * 10) / 10;
      return { status: 'pass', ...base, checks: { database: { status: 'pass', latencyMs } } };
    } catch {
      // Never the driver's message: it could name hosts or users.
      const output = 'database did not answer';
      return { status: 'fail', ...base, checks: { database: { status: 'fail', output } } };
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

  routes.define({
    method: 'get',
    path: '/health',
    summary: 'Health report with a database check',
    responses: {
      200: { description: 'Healthy', content: healthContent(healthReport) },
      503: { description: 'Database failing', content: healthContent(healthReport) },
    },
    handle: (_input, _req, res) => sendReport(res),
  });

  routes.define({
    method: 'get',
    path: '/health/live',
    summary: 'Liveness: the process is running (never touches the database)',
    responses: { 200: { description: 'Alive', content: healthContent(liveness) } },
    handle(_input, _req, res) {
      send(res, 200, { status: 'pass', version } satisfies z.infer<typeof liveness>);
    },
  });

  routes.define({
    method: 'get',
    path: '/health/ready',
    summary: 'Readiness: database reachable and not shutting down',
    responses: {
      200: { description: 'Ready', content: healthContent(healthReport) },
      503: {
        description: 'Not ready: the database check failed, or shutdown has started (then without a check)',
        content: healthContent(z.union([healthReport, shuttingDown])),
      },
    },
    async handle(_input, _req, res) {
      if (lifecycle.shuttingDown) {
        send(res, 503, { status: 'fail', version, output: 'shutting down' } satisfies z.infer<typeof shuttingDown>);
        return;
      }
      await sendReport(res);
    },
  });
}
