import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { buildTestApp, closeTestApp, openTestApp, type TestApp } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let database: TestDatabase;
let api: TestApp;

/** The response headers of GET `path` as [name, value] pairs, names spelled as sent on the wire. */
async function rawHeaderPairs(app: Parameters<typeof request>[0], path: string): Promise<[string, string][]> {
  // supertest's typings omit the underlying IncomingMessage (`res`), which keeps the raw headers.
  const raw = ((await request(app).get(path)) as unknown as { res: { rawHeaders: string[] } }).res.rawHeaders;
  return raw.flatMap((name, i): [string, string][] => (i % 2 === 0 ? [[name, raw[i + 1]!]] : []));
}

beforeAll(async () => ({ database, api } = await openTestApp()));
afterAll(() => closeTestApp({ database, api }));

describe('unknown routes and methods', () => {
  it.each(['/nope', '/api', '/api/items/1/extra', '/api/itemz'])('answers 404 problem+json for %s', async (path) => {
    const res = await request(api.app).get(path);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: 'about:blank', title: 'Not Found', status: 404, instance: path });
  });

  it.each([
    ['PATCH', '/api/items/1', 'GET, HEAD, PUT, DELETE'],
    ['DELETE', '/api/items', 'GET, HEAD, POST'],
    ['PUT', '/api/items', 'GET, HEAD, POST'],
    ['POST', '/api/items/1', 'GET, HEAD, PUT, DELETE'],
    ['POST', '/health', 'GET, HEAD'],
    ['DELETE', '/openapi.json', 'GET, HEAD'],
  ])('answers 405 with Allow for %s %s, and changes nothing', async (method, path, allow) => {
    const before = (await database.sql.query('SELECT count(*) FROM items')).rows[0].count;
    const res = await request(api.app)[method.toLowerCase() as 'patch'](path).send({ name: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await database.sql.query('SELECT count(*) FROM items')).rows[0].count).toBe(before);
  });

  it('answers 400 problem+json (not 500) for a path whose percent-encoding is broken', async () => {
    const res = await request(api.app).get('/api/items/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'The request URL is not valid percent-encoding.',
    });
  });

  it('answers OPTIONS with 204 and Allow', async () => {
    const res = await request(api.app).options('/api/items').expect(204);
    expect(res.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
  });
});

describe('request ids', () => {
  it('echoes a valid X-Request-Id and puts it in problem bodies', async () => {
    const res = await request(api.app).get('/api/items/999999').set('X-Request-Id', 'trace-abc-123');
    expect(res.headers['x-request-id']).toBe('trace-abc-123');
    expect(res.body.requestId).toBe('trace-abc-123');
  });

  it('replaces a missing or unsafe X-Request-Id with a generated UUID', async () => {
    const generated = await request(api.app).get('/api/items');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const unsafe = await request(api.app).get('/api/items').set('X-Request-Id', 'bad id with spaces');
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('security headers', () => {
  it('sets helmet headers and hides the framework', async () => {
    const res = await request(api.app).get('/api/items');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it("sends exactly helmet's headers, spelled as helmet spells them, on every kind of response", async () => {
    // They are computed once at start-up (src/http/security-headers.ts); an app running helmet()
    // on each request is the reference.
    const reference = express().use(helmet(), (_req, res) => void res.end());
    const transport = new Set(['Date', 'Connection', 'Keep-Alive', 'Content-Length']);
    for (const path of ['/api/items', '/api/items/999999', '/nope', '/health/live']) {
      const helmetPairs = (await rawHeaderPairs(reference, path)).filter(([name]) => !transport.has(name));
      expect(helmetPairs.length).toBeGreaterThan(10);
      expect(await rawHeaderPairs(api.app, path)).toEqual(expect.arrayContaining(helmetPairs));
    }
  });
});

describe('rate limiting', () => {
  it('answers 429 problem+json with standard RateLimit headers once the limit is spent, storing nothing more', async () => {
    const limited = buildTestApp(database.url, { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' });
    try {
      const before = Number((await database.sql.query('SELECT count(*) FROM items')).rows[0].count);
      for (let i = 0; i < 3; i++) {
        const ok = await request(limited.app)
          .post('/api/items')
          .send({ name: `r${i}` });
        expect(ok.status).toBe(201);
        expect(ok.headers['ratelimit-policy']).toMatch(/^"3-in-1min"; q=3; w=60/);
      }
      const res = await request(limited.app).post('/api/items').send({ name: 'one too many' });
      expect(res.status).toBe(429);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers.ratelimit).toMatch(/r=0; t=\d+/);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(Number((await database.sql.query('SELECT count(*) FROM items')).rows[0].count)).toBe(before + 3);
      // Probes are never rate limited: Kubernetes must always get an answer.
      await request(limited.app).get('/health/live').expect(200);
    } finally {
      await limited.close();
    }
  });
});

describe('client address behind proxies (TRUST_PROXY)', () => {
  it('with one trusted hop, rate-limits each forwarded client separately', async () => {
    const proxied = buildTestApp(database.url, { RATE_LIMIT_MAX: '1', TRUST_PROXY: '1' });
    try {
      const from = (ip: string) => request(proxied.app).get('/api/items').set('X-Forwarded-For', ip);
      expect((await from('203.0.113.1')).status).toBe(200);
      expect((await from('203.0.113.1')).status).toBe(429);
      expect((await from('203.0.113.2')).status).toBe(200);
    } finally {
      await proxied.close();
    }
  });

  it('with one trusted hop, keys on the entry the proxy added: addresses a client puts in front of it change nothing', async () => {
    // ingress-nginx replaces X-Forwarded-For by default; even a proxy that appends (nginx's
    // compute-full-forwarded-for) puts the address it saw last, and that is the one used.
    const proxied = buildTestApp(database.url, { RATE_LIMIT_MAX: '2', TRUST_PROXY: '1' });
    try {
      const statuses: number[] = [];
      for (const forged of ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4']) {
        const res = await request(proxied.app).get('/api/items').set('X-Forwarded-For', `${forged}, 203.0.113.7`);
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 429, 429]);
    } finally {
      await proxied.close();
    }
  });

  it('with TRUST_PROXY=0 (default), ignores X-Forwarded-For so clients cannot dodge the limit', async () => {
    const direct = buildTestApp(database.url, { RATE_LIMIT_MAX: '1' });
    try {
      const from = (ip: string) => request(direct.app).get('/api/items').set('X-Forwarded-For', ip);
      expect((await from('203.0.113.1')).status).toBe(200);
      expect((await from('203.0.113.2')).status).toBe(429);
    } finally {
      await direct.close();
    }
  });
});

describe('unexpected errors', () => {
  it('answer 500 problem+json without internals, and log the error with its request id', async () => {
    const broken = await createTestDatabase();
    const app = buildTestApp(broken.url);
    try {
      // A database without the table: the query fails in a way no handler expects.
      await broken.sql.query('DROP TABLE items');
      const res = await request(app.app).get('/api/items/1').set('X-Request-Id', 'boom-1');
      expect(res.status).toBe(500);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual({
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        detail: 'An unexpected error occurred. It has been logged.',
        instance: '/api/items/1',
        requestId: 'boom-1',
      });
      const line = app.logs.find((l) => (l.req as { id?: string } | undefined)?.id === 'boom-1');
      expect(line).toMatchObject({ level: 'error', res: { statusCode: 500 }, err: expect.any(Object) });
    } finally {
      await app.close();
      await broken.drop();
    }
  });
});
