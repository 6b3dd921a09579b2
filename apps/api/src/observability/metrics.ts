import type { RequestHandler } from 'express';
import type pg from 'pg';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  /** Times every API request except health probes (and /metrics, which has its own port). */
  middleware: RequestHandler;
}

// Requests that never hit a route share one label, so random URLs cannot blow up cardinality.
const UNMATCHED_ROUTE = 'unmatched';

export function createMetrics(pool: pg.Pool): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const poolGauges: [name: string, help: string, read: () => number][] = [
    ['db_pool_connections_total', 'Connections the pg pool holds (idle and in use)', () => pool.totalCount],
    ['db_pool_connections_idle', 'Idle connections in the pg pool', () => pool.idleCount],
    ['db_pool_requests_waiting', 'Queries queued for a pg pool connection', () => pool.waitingCount],
  ];
  for (const [name, help, read] of poolGauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }

  // One labelled child per method/route/status, made once: `startTimer(...)`/`end(...)` would merge,
  // validate and re-hash the label object on every request (see docs/api.md, "Benchmark"). The key
  // space is bounded: the HTTP parser knows a few dozen methods, routes are templates or
  // `unmatched`, status codes are three digits.
  const observers = new Map<string, Histogram.Internal<'method' | 'route' | 'status_code'>>();
  const observe = (method: string, route: string, statusCode: number, seconds: number) => {
    const key = `${method} ${statusCode} ${route}`;
    let observer = observers.get(key);
    if (observer === undefined) {
      observer = duration.labels({ method, route, status_code: statusCode });
      observers.set(key, observer);
    }
    observer.observe(seconds);
  };

  const middleware: RequestHandler = (req, res, next) => {
    if (req.path.startsWith('/health')) return next();
    const started = performance.now();
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? UNMATCHED_ROUTE;
      observe(req.method, route, res.statusCode, (performance.now() - started) / 1000);
    });
    next();
  };

  return { registry, middleware };
}
