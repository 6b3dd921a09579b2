import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { closeTestApp, openTestApp, type TestApp } from './support/app.js';
import type { TestDatabase } from './support/database.js';

let database: TestDatabase;
let api: TestApp;
let ids: number[];

beforeAll(async () => {
  ({ database, api } = await openTestApp());
  // 250 rows, inserted out of id order on purpose is impossible with SERIAL; delete a few to leave gaps.
  await database.sql.query(`INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 250) AS g`);
  await database.sql.query('DELETE FROM items WHERE id IN (3, 100, 101)');
  ids = (await database.sql.query('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id as number);
});
afterAll(() => closeTestApp({ database, api }));

describe('GET /api/items', () => {
  it('returns the first 100 items ordered by id, with a Link to the next page', async () => {
    const res = await request(api.app).get('/api/items').expect(200);
    expect(res.body).toHaveLength(100);
    expect(res.body.map((i: { id: number }) => i.id)).toEqual(ids.slice(0, 100));
    expect(res.body[0]).toEqual({
      id: ids[0],
      name: 'item 1',
      description: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(res.headers.link).toBe(`</api/items?limit=100&after=${ids[99]}>; rel="next"`);
  });

  it('walks the whole table by following rel="next" links, without gaps or repeats', async () => {
    const seen: number[] = [];
    let next: string | undefined = '/api/items?limit=64';
    while (next) {
      const res: request.Response = await request(api.app).get(next).expect(200);
      seen.push(...res.body.map((i: { id: number }) => i.id));
      next = /<([^>]+)>; rel="next"/.exec(res.headers.link ?? '')?.[1];
    }
    expect(seen).toEqual(ids);
  });

  it('honours after= and sends no Link on the last page', async () => {
    const res = await request(api.app)
      .get(`/api/items?after=${ids.at(-3)}`)
      .expect(200);
    expect(res.body.map((i: { id: number }) => i.id)).toEqual(ids.slice(-2));
    expect(res.headers.link).toBeUndefined();
  });

  it('returns an empty array past the end', async () => {
    const res = await request(api.app).get('/api/items?after=2147483647').expect(200);
    expect(res.body).toEqual([]);
  });

  it('accepts limit=1000 (the maximum)', async () => {
    const res = await request(api.app).get('/api/items?limit=1000').expect(200);
    expect(res.body).toHaveLength(ids.length);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=-5', 'limit'],
    ['limit=1&limit=2', 'limit'],
    ['after=-1', 'after'],
    ['after=x', 'after'],
    ['after=2147483648', 'after'],
    ['page=2', 'page'],
  ])('rejects ?%s with 400 naming %s', async (query, field) => {
    const res = await request(api.app).get(`/api/items?${query}`);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors).toEqual([{ location: 'query', field, message: expect.any(String) }]);
  });
});
