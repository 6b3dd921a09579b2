import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { closeTestApp, openTestApp, type TestApp } from './support/app.js';
import type { TestDatabase } from './support/database.js';

let database: TestDatabase;
let api: TestApp;

beforeAll(async () => ({ database, api } = await openTestApp()));
afterAll(() => closeTestApp({ database, api }));

const countItems = async () => Number((await database.sql.query('SELECT count(*) AS n FROM items')).rows[0].n);

function expectProblem(res: request.Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  expect(res.body.requestId).toBe(res.headers['x-request-id']);
  expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+|SELECT|INSERT/);
}

describe('POST /api/items', () => {
  it('creates an item, answers 201 with Location, ETag and the item, and stores it trimmed', async () => {
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

  it('accepts a missing or null description and stores NULL', async () => {
    const a = await request(api.app).post('/api/items').send({ name: 'Kettle' }).expect(201);
    const b = await request(api.app).post('/api/items').send({ name: 'Mug', description: null }).expect(201);
    expect(a.body.description).toBeNull();
    expect(b.body.description).toBeNull();
    const { rows } = await database.sql.query('SELECT description FROM items WHERE id = ANY($1) ', [
      [a.body.id, b.body.id],
    ]);
    expect(rows).toEqual([{ description: null }, { description: null }]);
  });

  it('accepts the boundaries: a 200-character name and a 2000-character description', async () => {
    const res = await request(api.app)
      .post('/api/items')
      .send({ name: 'n'.repeat(200), description: 'd'.repeat(2000) })
      .expect(201);
    const { rows } = await database.sql.query(
      'SELECT length(name) AS n, length(description) AS d FROM items WHERE id = $1',
      [res.body.id],
    );
    expect(rows).toEqual([{ n: 200, d: 2000 }]);
  });

  it.each([
    ['an empty name', { name: '' }, 'name'],
    ['a name of only spaces', { name: '   ' }, 'name'],
    ['a name over 200 characters', { name: 'n'.repeat(201) }, 'name'],
    ['a missing name', { description: 'x' }, 'name'],
    ['a name that is not a string', { name: 42 }, 'name'],
    ['a description over 2000 characters', { name: 'ok', description: 'd'.repeat(2001) }, 'description'],
    ['a description that is not a string', { name: 'ok', description: ['x'] }, 'description'],
    ['a name containing a NUL character', { name: 'a\u0000b' }, 'name'],
    ['a description containing a NUL character', { name: 'ok', description: 'a\u0000b' }, 'description'],
    ['an unknown field', { name: 'ok', price: 3 }, 'price'],
    ['an id in the body', { id: 7, name: 'ok' }, 'id'],
  ])('rejects %s with 400, naming the field, and stores nothing', async (_case, body, field) => {
    const before = await countItems();
    const res = await request(api.app).post('/api/items').send(body);
    expectProblem(res, 400);
    expect(res.body.type).toBe('urn:python-api:problem:validation-error');
    expect(res.body.errors).toEqual(expect.arrayContaining([{ location: 'body', field, message: expect.any(String) }]));
    expect(await countItems()).toBe(before);
  });

  it.each([
    ['a JSON array', '[{"name":"x"}]'],
    ['a JSON string', '"just a string"'],
    ['JSON null', 'null'],
  ])('rejects %s as the body with 400', async (_case, raw) => {
    const before = await countItems();
    const res = await request(api.app).post('/api/items').set('Content-Type', 'application/json').send(raw);
    expectProblem(res, 400);
    expect(await countItems()).toBe(before);
  });

  it('rejects malformed JSON with 400', async () => {
    const before = await countItems();
    const res = await request(api.app).post('/api/items').set('Content-Type', 'application/json').send('{"name": "x",');
    expectProblem(res, 400);
    expect(res.body.title).toBe('Malformed JSON');
    expect(await countItems()).toBe(before);
  });

  it.each([
    ['text/plain', 'name=x'],
    ['application/x-www-form-urlencoded', 'name=x'],
    ['application/xml', '<item><name>x</name></item>'],
  ])('rejects a %s body with 415', async (type, raw) => {
    const before = await countItems();
    const res = await request(api.app).post('/api/items').set('Content-Type', type).send(raw);
    expectProblem(res, 415);
    expect(await countItems()).toBe(before);
  });

  it('rejects a request without a body with 415', async () => {
    const res = await request(api.app).post('/api/items');
    expectProblem(res, 415);
  });

  it('rejects a body over 100 kB with 413 and stores nothing', async () => {
    const before = await countItems();
    const res = await request(api.app)
      .post('/api/items')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ name: 'big', description: 'x'.repeat(101 * 1024) }));
    expectProblem(res, 413);
    expect(await countItems()).toBe(before);
  });
});

describe('GET /api/items/:id', () => {
  it('returns the item with its ETag, and 304 when If-None-Match still matches', async () => {
    const { rows } = await database.sql.query(
      `INSERT INTO items (name, description) VALUES ('Scale', '0.1 g') RETURNING id`,
    );
    const id = rows[0].id as number;
    const res = await request(api.app).get(`/api/items/${id}`).expect(200);
    expect(res.body).toMatchObject({ id, name: 'Scale', description: '0.1 g' });
    expect(res.headers.etag).toBe(`"${id}.1"`);

    await request(api.app)
      .get(`/api/items/${id}`)
      .set('If-None-Match', res.headers.etag as string)
      .expect(304);
  });

  it('answers 404 for an id that does not exist', async () => {
    const res = await request(api.app).get('/api/items/999999');
    expectProblem(res, 404);
  });

  it.each(['abc', '0', '-1', '1.5', '01', '2147483648', '99999999999', '1e3'])(
    'answers 400 for the id %p',
    async (id) => {
      const res = await request(api.app).get(`/api/items/${id}`);
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([{ location: 'path', field: 'id', message: expect.any(String) }]);
    },
  );

  it('accepts the largest possible id (2147483647) and answers 404', async () => {
    expectProblem(await request(api.app).get('/api/items/2147483647'), 404);
  });
});
