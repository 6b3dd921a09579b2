import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { closeTestApp, openTestApp, type TestApp } from './support/app.js';
import type { TestDatabase } from './support/database.js';

let database: TestDatabase;
let api: TestApp;

beforeAll(async () => ({ database, api } = await openTestApp()));
afterAll(() => closeTestApp({ database, api }));

describe('health endpoints', () => {
  it('GET /health reports pass with the database latency, version and uptime (application/health+json)', async () => {
    const res = await request(api.app).get('/health').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/health\+json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      status: 'pass',
      version: '1.2.3-test',
      uptimeSeconds: expect.any(Number),
      checks: { database: { status: 'pass', latencyMs: expect.any(Number) } },
    });
  });

  it('GET /health/live answers 200 without touching the database', async () => {
    const queriesBefore = api.pool.totalCount;
    const res = await request(api.app).get('/health/live').expect(200);
    expect(res.body).toEqual({ status: 'pass', version: '1.2.3-test' });
    expect(api.pool.totalCount).toBe(queriesBefore);
  });

  it('GET /health/ready answers 200 while running and 503 as soon as shutdown starts', async () => {
    await request(api.app).get('/health/ready').expect(200);
    api.lifecycle.shuttingDown = true;
    try {
      const res = await request(api.app).get('/health/ready').expect(503);
      expect(res.body).toMatchObject({ status: 'fail', output: 'shutting down' });
      // Liveness is unaffected: the pod must not be restarted while it drains.
      await request(api.app).get('/health/live').expect(200);
      // Requests still work while draining, but ask keep-alive clients to reconnect elsewhere.
      const drained = await request(api.app).get('/api/items').expect(200);
      expect(drained.headers.connection).toBe('close');
    } finally {
      api.lifecycle.shuttingDown = false;
    }
  });
});
