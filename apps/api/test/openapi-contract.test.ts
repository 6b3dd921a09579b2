// The OpenAPI document describes what the server does: each real response is looked up in the
// served document by route, method and status, and its body is validated against the documented
// schema (JSON Schema 2020-12, as OpenAPI 3.1 defines it).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import request from 'supertest';
import { closeTestApp, openTestApp, type TestApp } from './support/app.js';
import type { TestDatabase } from './support/database.js';

let database: TestDatabase;
let api: TestApp;
let documentPaths: Record<string, Record<string, { responses: Record<string, DocumentedResponse> }>>;
let ajv: Ajv2020;

interface DocumentedResponse {
  content?: Record<string, { schema: unknown }>;
}

const DOCUMENT_ID = 'urn:python-api:openapi';
const pointer = (...segments: string[]) =>
  segments.map((s) => `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

beforeAll(async () => {
  ({ database, api } = await openTestApp());
  const { body } = await request(api.app).get('/openapi.json').expect(200);
  documentPaths = body.paths;
  // Formats are the server's business (zod checks them); this checks shapes, types and patterns.
  ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ ...body, $id: DOCUMENT_ID });
});
afterAll(() => closeTestApp({ database, api }));

interface Observed {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: unknown;
}

/** What the document says about this response, and where the server departs from it. */
function departures(method: string, path: string, res: Observed): string[] {
  const where = `${method.toUpperCase()} ${path} ${res.status}`;
  const documented = documentPaths[path]?.[method]?.responses[String(res.status)];
  if (!documented) return [`${where}: status not documented`];
  const mediaType = (res.headers['content-type'] ?? '').split(';')[0] ?? '';
  if (!documented.content) return res.text ? [`${where}: documented without a body, sent ${mediaType}`] : [];
  const media = documented.content[mediaType];
  if (!media) return [`${where}: ${mediaType || 'no body'} not among ${Object.keys(documented.content).join(', ')}`];
  if (media.schema === undefined) return [];
  const ref = `${DOCUMENT_ID}#${pointer('paths', path, method, 'responses', String(res.status), 'content', mediaType, 'schema')}`;
  const validate = ajv.getSchema(ref);
  if (!validate) return [`${where}: cannot compile ${ref}`];
  return validate(/json$/.test(mediaType) ? res.body : res.text)
    ? []
    : (validate.errors ?? []).map((e) => `${where}: body${e.instancePath} ${e.message}`);
}

describe('every response the server gives is documented, body and all', () => {
  it('for the items routes, including 304 and errors', async () => {
    const { body: created } = await request(api.app).post('/api/items').send({ name: 'Contract' }).expect(201);
    const item = `/api/items/${created.id}`;
    const problems: string[] = [];
    const check = async (method: string, path: string, res: Observed) =>
      problems.push(...departures(method, path, res));

    await check('get', '/api/items', await request(api.app).get('/api/items'));
    await check('get', '/api/items', await request(api.app).get('/api/items').set('If-None-Match', '*'));
    await check('get', '/api/items', await request(api.app).get('/api/items?limit=0'));
    await check('post', '/api/items', await request(api.app).post('/api/items').send({ name: ' ' }));
    await check('get', '/api/items/{id}', await request(api.app).get(item));
    await check('get', '/api/items/{id}', await request(api.app).get(item).set('If-None-Match', `"${created.id}.1"`));
    await check('get', '/api/items/{id}', await request(api.app).get('/api/items/999999'));
    await check(
      'put',
      '/api/items/{id}',
      await request(api.app).put(item).set('If-Match', '"1.99"').send({ name: 'x' }),
    );
    await check('put', '/api/items/{id}', await request(api.app).put(item).send({ name: 'Contract 2' }));
    await check('delete', '/api/items/{id}', await request(api.app).delete(item));
    expect(problems).toEqual([]);
  });

  it('for health, including shutting down, and for the document itself', async () => {
    const problems: string[] = [];
    const check = async (path: string, res: Observed) => problems.push(...departures('get', path, res));
    for (const path of ['/health', '/health/live', '/health/ready', '/openapi.json']) {
      await check(path, await request(api.app).get(path));
      await check(path, await request(api.app).get(path).set('If-None-Match', '*'));
    }
    api.lifecycle.shuttingDown = true;
    try {
      await check('/health/ready', await request(api.app).get('/health/ready'));
    } finally {
      api.lifecycle.shuttingDown = false;
    }
    expect(problems).toEqual([]);
  });

  it('for /docs: the page, 304, and the documented 404 and 405', async () => {
    const problems: string[] = [];
    const check = async (method: string, res: Observed) => problems.push(...departures(method, '/docs', res));
    await check('get', await request(api.app).get('/docs/'));
    await check('get', await request(api.app).get('/docs/').set('If-None-Match', '*'));
    expect(problems).toEqual([]);
  });
});

describe('/docs answers like every other route', () => {
  it.each(['post', 'put', 'delete', 'patch'] as const)(
    '%s /docs and /docs/ answer 405 problem+json with Allow',
    async (method) => {
      for (const path of ['/docs', '/docs/']) {
        const res = await request(api.app)[method](path);
        expect([path, res.status, res.headers.allow, res.headers['content-type']]).toEqual([
          path,
          405,
          'GET, HEAD',
          expect.stringMatching(/^application\/problem\+json/),
        ]);
      }
    },
  );

  it('unknown paths below /docs answer 404 problem+json, for any method', async () => {
    for (const [method, path] of [
      ['get', '/docs/nope'],
      ['get', '/docs/x/y'],
      ['post', '/docs/nope'],
      ['delete', '/docs/swagger-ui.css'],
    ] as const) {
      const res = await request(api.app)[method](path);
      expect([method, path, res.status, res.headers['content-type']]).toEqual([
        method,
        path,
        404,
        expect.stringMatching(/^application\/problem\+json/),
      ]);
    }
  });
});

describe('the documented request body is the one the server accepts', () => {
  const names = [
    'x',
    ' x ',
    '',
    ' ',
    '\t\n ',
    '\u00a0\ufeff',
    'a\u0000b',
    '\u0000',
    'a'.repeat(200),
    'a'.repeat(201),
    ` ${'a'.repeat(200)}\n`,
    `a${' '.repeat(198)}a`,
    `a${' '.repeat(199)}a`,
    // Characters are counted as PostgreSQL's varchar(200) and JSON Schema count them: code points.
    '\u{1F600}'.repeat(200),
    '\u{1F600}'.repeat(201),
  ];

  it('ItemInput accepts exactly the names POST /api/items accepts (trimming, NUL, length)', async () => {
    const validate = ajv.getSchema(`${DOCUMENT_ID}#${pointer('components', 'schemas', 'ItemInput')}`);
    expect(validate).toBeDefined();
    const verdicts = [];
    for (const name of names) {
      const res = await request(api.app).post('/api/items').send({ name });
      verdicts.push({ name: JSON.stringify(name).slice(0, 30), server: res.status, documented: validate!({ name }) });
    }
    expect(verdicts).toEqual(verdicts.map((v) => ({ ...v, server: v.documented ? 201 : 400 })));
    // And the stored name is the trimmed one.
    const { rows } = await database.sql.query(`SELECT name FROM items WHERE name LIKE '%x%' ORDER BY id`);
    expect(rows.map((r: { name: string }) => r.name)).toEqual(expect.arrayContaining(['x']));
    expect(rows.map((r: { name: string }) => r.name)).not.toContain(' x ');
  });

  it('description: NUL is documented as refused, 2000 code points accepted', async () => {
    const validate = ajv.getSchema(`${DOCUMENT_ID}#${pointer('components', 'schemas', 'ItemInput')}`)!;
    for (const description of ['ok\u0000', '\u{1F600}'.repeat(2000), '\u{1F600}'.repeat(2001), null]) {
      const res = await request(api.app).post('/api/items').send({ name: 'd', description });
      expect([JSON.stringify(description)?.slice(0, 20), res.status]).toEqual([
        JSON.stringify(description)?.slice(0, 20),
        validate({ name: 'd', description }) ? 201 : 400,
      ]);
    }
  });
});
