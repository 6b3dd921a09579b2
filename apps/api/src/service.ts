/**
 * The composition root: the one place the API's parts are wired together. The server
 * (server.ts), the API tests (test/support/app.ts) and the monitoring suites (tests/support/real-api.ts)
 * all build the API through composeApi, or startService on top of it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import type { ServerConfig } from './config/config.js';
import { createPool } from './db/pool.js';
import { createPrismaClient, type Database } from './db/prisma.js';
import type { Lifecycle } from './http/health.js';
import { answerParserErrorsAsProblems } from './http/parser-errors.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { readVersion } from './version.js';

/** The API wired to its database, not yet listening. */
export interface ComposedApi {
  app: Express;
  db: Database;
  pool: pg.Pool;
  metrics: Metrics;
  lifecycle: Lifecycle;
  version: string;
  /** Prisma disconnects, then the pool ends. */
  close(): Promise<void>;
}

/** Builds the pool, Prisma, metrics and the Express app from the configuration; opens no port. */
export function composeApi(config: ServerConfig, logger: Logger, version = readVersion()): ComposedApi {
  const pool = createPool(config, logger);
  const db = createPrismaClient(pool);
  const metrics = createMetrics(pool);
  const lifecycle: Lifecycle = { shuttingDown: false };
  const app = createApp({ config, db, pool, logger, metrics, lifecycle, version });
  return {
    app,
    db,
    pool,
    metrics,
    lifecycle,
    version,
    async close() {
      await db.$disconnect();
      await pool.end();
    },
  };
}

export interface Service {
  port: number;
  metricsPort: number;
  lifecycle: Lifecycle;
  /**
   * Graceful stop: readiness fails at once, the listener stays open SHUTDOWN_DELAY_MS so load
   * balancers notice, then closes; in-flight requests finish, idle keep-alive sockets close,
   * Prisma disconnects and the pool ends. Resolves false when SHUTDOWN_TIMEOUT_MS ran out and
   * connections had to be cut.
   */
  shutdown(): Promise<boolean>;
}

function listen(server: http.Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** The composed API listening on PORT, and its metrics on METRICS_PORT (0: any free port). */
export async function startService(config: ServerConfig, logger: Logger): Promise<Service> {
  const api = composeApi(config, logger);
  const { app, metrics, lifecycle, version } = api;

  const server = http.createServer(app);
  server.keepAliveTimeout = config.KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = config.HEADERS_TIMEOUT_MS;
  answerParserErrorsAsProblems(server, logger);

  // Metrics on their own port so the public Service/Ingress never exposes them.
  const metricsServer = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found: metrics are at /metrics\n');
  });

  const port = await listen(server, config.PORT);
  const metricsPort = await listen(metricsServer, config.METRICS_PORT);
  logger.info({ port, metricsPort, version, config }, 'listening');

  let stopping: Promise<boolean> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      lifecycle.shuttingDown = true;
      logger.info({ delayMs: config.SHUTDOWN_DELAY_MS }, 'shutting down: readiness now fails');
      await new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_DELAY_MS));

      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // close() only waits; sockets idle between keep-alive requests must be closed now,
      // and again as in-flight requests finish (their sockets turn idle).
      server.closeIdleConnections();
      const sweeper = setInterval(() => server.closeIdleConnections(), 100);
      let timer: NodeJS.Timeout | undefined;
      const graceful = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), config.SHUTDOWN_TIMEOUT_MS);
        }),
      ]);
      clearInterval(sweeper);
      clearTimeout(timer);
      if (!graceful) {
        logger.warn('shutdown timeout reached: closing the remaining connections');
        server.closeAllConnections();
      }
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      metricsServer.closeAllConnections();
      await api.close();
      logger.info({ graceful }, 'stopped');
      return graceful;
    })());

  return { port, metricsPort, lifecycle, shutdown };
}
