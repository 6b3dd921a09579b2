import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { closeTestApp, openTestApp, type TestApp } from './support/app.js';
import type { TestDatabase } from './support/database.js';

let database: TestDatabase;
let api: TestApp;
let id: number;

beforeAll(async () => ({ database, api } = await openTestApp()));
afterAll(() => closeTestApp({ database, api }));
beforeEach(async () => {
  const { rows } = await database.sql.query(
    `INSERT INTO items (name, description, created_at, updated_at)
     VALUES ('Kettle', 'Gooseneck', now() - interval '1 hour', now() - interval '1 hour') RETURNING id`,
  );
  id = rows[0].id;
});

const row = async (itemId = id) =>
  (
    await database.sql.query('SELECT name, description, version, updated_at, created_at FROM items WHERE id = $1', [
      itemId,
    ])
  ).rows[0];

describe('PUT /api/items/:id', () => {
  it('replaces the item, bumps its version and updatedAt, and returns it with the new ETag', async () => {
    const before = await row();
    const res = await request(api.app).put(`/api/items/${id}`).send({ name: ' Kettle v2 ' }).expect(200);
    expect(res.body).toMatchObject({ id, name: 'Kettle v2', description: null });
    expect(res.headers.etag).toBe(`"${id}.2"`);
    expect(new Date(res.body.updatedAt).getTime()).toBeGreaterThan(before.updated_at.getTime());
    expect(res.body.createdAt).toBe(before.created_at.toISOString());

    const after = await row();
    // Full replacement: the omitted description is cleared.
    expect(after).toMatchObject({ name: 'Kettle v2', description: null, version: 2 });
  });

  it('answers 404 for a missing item and creates nothing', async () => {
    const res = await request(api.app).put('/api/items/999999').send({ name: 'x' });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await database.sql.query('SELECT 1 FROM items WHERE id = 999999')).rowCount).toBe(0);
  });

  it.each([
    ['an empty name', { name: '' }],
    ['an unknown field', { name: 'x', colour: 'red' }],
    ['a long description', { name: 'x', description: 'd'.repeat(2001) }],
  ])('rejects %s with 400 and leaves the item unchanged', async (_case, body) => {
    const before = await row();
    const res = await request(api.app).put(`/api/items/${id}`).send(body);
    expect(res.status).toBe(400);
    expect(await row()).toEqual(before);
  });

  it('rejects malformed JSON (400), a non-JSON body (415) and a bad id (400) without changes', async () => {
    const before = await row();
    expect(
      (await request(api.app).put(`/api/items/${id}`).set('Content-Type', 'application/json').send('{')).status,
    ).toBe(400);
    expect((await request(api.app).put(`/api/items/${id}`).set('Content-Type', 'text/plain').send('x')).status).toBe(
      415,
    );
    expect((await request(api.app).put('/api/items/zero').send({ name: 'x' })).status).toBe(400);
    expect(await row()).toEqual(before);
  });

  it('writes when If-Match carries the current ETag', async () => {
    const res = await request(api.app)
      .put(`/api/items/${id}`)
      .set('If-Match', `"${id}.1"`)
      .send({ name: 'A' })
      .expect(200);
    expect(res.headers.etag).toBe(`"${id}.2"`);
    expect(await row()).toMatchObject({ name: 'A', version: 2 });
  });

  it('answers 412 when If-Match names an older version, and keeps the newer data', async () => {
    await request(api.app).put(`/api/items/${id}`).send({ name: 'first writer' }).expect(200);
    const res = await request(api.app).put(`/api/items/${id}`).set('If-Match', `"${id}.1"`).send({ name: 'second' });
    expect(res.status).toBe(412);
    expect(res.body.type).toBe('urn:python-api:problem:precondition-failed');
    expect(await row()).toMatchObject({ name: 'first writer', version: 2 });
  });

  it('treats weak or foreign ETags in If-Match as not matching (412)', async () => {
    for (const tag of [`W/"${id}.1"`, '"999.1"', 'garbage']) {
      expect((await request(api.app).put(`/api/items/${id}`).set('If-Match', tag).send({ name: 'x' })).status).toBe(
        412,
      );
    }
    expect(await row()).toMatchObject({ name: 'Kettle', version: 1 });
  });

  // The version column is a 32-bit integer: a tag naming a version it cannot hold (or an id or
  // version spelled differently from the ETag the server sends) can never match.
  const unmatchable = (itemId: number) => [
    `"${itemId}.2147483648"`,
    `"${itemId}.${'9'.repeat(400)}"`,
    `"${itemId}.0"`,
    `"${itemId}.01"`,
    `"0${itemId}.1"`,
    `"${'9'.repeat(400)}.1"`,
    `"${itemId}.1", "${itemId}.99999999999999999999"`,
  ];

  it('answers 412 (never 500) for If-Match versions beyond the version column or not spelled as sent, changing nothing', async () => {
    const statuses = [];
    for (const tag of unmatchable(id)) {
      const res = await request(api.app).put(`/api/items/${id}`).set('If-Match', tag).send({ name: 'x' });
      statuses.push([tag.slice(0, 40), res.status, res.headers['content-type']]);
    }
    // The last header also names the current version: that one matches.
    expect(statuses).toEqual(
      unmatchable(id).map((tag, i, all) => [
        tag.slice(0, 40),
        i === all.length - 1 ? 200 : 412,
        expect.stringMatching(/^application\/(problem\+)?json/),
      ]),
    );
    expect(await row()).toMatchObject({ name: 'x', version: 2 });
  });

  it('accepts If-Match: * for an existing item and answers 404 for a missing one', async () => {
    await request(api.app).put(`/api/items/${id}`).set('If-Match', '*').send({ name: 'any' }).expect(200);
    expect((await request(api.app).put('/api/items/999999').set('If-Match', '*').send({ name: 'x' })).status).toBe(404);
  });

  it('lets exactly one of two concurrent writers with the same If-Match win; the other gets 412', async () => {
    const write = (name: string) =>
      request(api.app).put(`/api/items/${id}`).set('If-Match', `"${id}.1"`).send({ name });
    const results = await Promise.all([write('writer A'), write('writer B')]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
    const winner = results.find((r) => r.status === 200)?.body.name;
    expect(await row()).toMatchObject({ name: winner, version: 2 });
  });
});

describe('DELETE /api/items/:id', () => {
  it('deletes the item and answers 204 with no body', async () => {
    const res = await request(api.app).delete(`/api/items/${id}`).expect(204);
    expect(res.text).toBe('');
    expect(await row()).toBeUndefined();
    await request(api.app).get(`/api/items/${id}`).expect(404);
  });

  it('answers 404 for a missing item (also on a second delete)', async () => {
    await request(api.app).delete(`/api/items/${id}`).expect(204);
    const res = await request(api.app).delete(`/api/items/${id}`);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers 400 for an invalid id', async () => {
    expect((await request(api.app).delete('/api/items/-3')).status).toBe(400);
    expect(await row()).toBeDefined();
  });

  it('answers 412 (never 500) for If-Match versions beyond the version column, and deletes nothing', async () => {
    for (const tag of [`"${id}.2147483648"`, `"${id}.${'9'.repeat(400)}"`, `"${'9'.repeat(400)}.1"`]) {
      const res = await request(api.app).delete(`/api/items/${id}`).set('If-Match', tag);
      expect([tag.slice(0, 40), res.status]).toEqual([tag.slice(0, 40), 412]);
    }
    expect((await request(api.app).delete('/api/items/999999').set('If-Match', '"999999.2147483648"')).status).toBe(
      404,
    );
    expect(await row()).toMatchObject({ name: 'Kettle', version: 1 });
  });

  it('honours If-Match: 412 and nothing deleted when the item changed', async () => {
    await request(api.app).put(`/api/items/${id}`).send({ name: 'changed' }).expect(200);
    expect((await request(api.app).delete(`/api/items/${id}`).set('If-Match', `"${id}.1"`)).status).toBe(412);
    expect(await row()).toMatchObject({ name: 'changed' });
    await request(api.app).delete(`/api/items/${id}`).set('If-Match', `"${id}.2"`).expect(204);
    expect(await row()).toBeUndefined();
  });
});
