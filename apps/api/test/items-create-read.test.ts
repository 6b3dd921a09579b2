import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { buildTestApp, type TestApp } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let database: TestDatabase;
let api: TestApp;

beforeAll(async () => {
  database = await createTestDatabase();
  api = buildTestApp(database.url);
});
afterAll(async () => {
  await api.close();
  await database.drop();
});

describe('POST /api/items', () => {
  it('creates an item, answers 201 with Location, ETag and the item, and stores it', async () => {
    const res = await request(api.app)
      .post('/api/items')
      .send({ name: '  Coffee grinder  ', description: 'Burr' })
      .expect(201)
      .expect('Content-Type', /application\/json/);

    expect(res.body).toEqual({
      id: expect.any(Number),
      name: 'Coffee grinder',
      description: 'Burr',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: expect.stringMatching(/Z$/),
    });
    expect(res.headers.location).toBe(`/api/items/${res.body.id}`);
    expect(res.headers.etag).toBe(`"${res.body.id}.1"`);

    const { rows } = await database.sql.query('SELECT name, description, version FROM items WHERE id = $1', [
      res.body.id,
    ]);
    expect(rows).toEqual([{ name: 'Coffee grinder', description: 'Burr', version: 1 }]);
  });
});
