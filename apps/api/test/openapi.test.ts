import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { toOpenApiPath } from '../src/http/routes.js';
import { buildTestApp, closeTestApp, openTestApp, type TestApp } from './support/app.js';
import type { TestDatabase } from './support/database.js';

let database: TestDatabase;
let api: TestApp;

beforeAll(async () => ({ database, api } = await openTestApp()));
afterAll(() => closeTestApp({ database, api }));

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** Every (method, path) the Express app serves, read from its router. */
function servedRoutes(): { method: string; path: string }[] {
  const stack = (api.app as unknown as { router: { stack: Layer[] } }).router.stack;
  return stack.flatMap((layer) => {
    const methods = Object.keys(layer.route?.methods ?? {});
    // app.all() fallbacks (registered for every method) only answer 405 with Allow.
    if (!layer.route || methods.length > 20) return [];
    return methods.map((method) => ({ method, path: toOpenApiPath(layer.route!.path) }));
  });
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document', async () => {
    const res = await request(api.app).get('/openapi.json').expect(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.body.info).toMatchObject({ title: 'Items API', version: '1.2.3-test' });
  });

  it('documents every route the app serves, with its method', async () => {
    const { body } = await request(api.app).get('/openapi.json').expect(200);
    const routes = servedRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(9);
    for (const { method, path } of routes) {
      expect({ method, path, documented: Boolean(body.paths[path]?.[method]) }).toEqual({
        method,
        path,
        documented: true,
      });
    }
    expect(body.paths['/docs']?.get).toBeDefined();
  });

  it('states the configured body limit in its 413 responses', async () => {
    const { body } = await request(api.app).get('/openapi.json').expect(200);
    expect(body.paths['/api/items'].post.responses['413'].description).toBe('Body larger than the limit (100kb)');
    const small = buildTestApp(database.url, { BODY_LIMIT: '2kb' });
    try {
      const { body: doc } = await request(small.app).get('/openapi.json').expect(200);
      expect(doc.paths['/api/items/{id}'].put.responses['413'].description).toBe('Body larger than the limit (2kb)');
    } finally {
      await small.close();
    }
  });

  it('derives request rules from the validating zod schemas', async () => {
    const { body } = await request(api.app).get('/openapi.json').expect(200);
    const input = body.components.schemas.ItemInput;
    expect(input.additionalProperties).toBe(false);
    expect(input.required).toEqual(['name']);
    // Length and NUL rules apply after trimming, so they are one pattern (openapi-contract.test.ts
    // checks it accepts exactly what the server accepts).
    expect(input.properties.name).toMatchObject({ type: 'string', minLength: 1, pattern: expect.any(String) });
    expect(input.properties.description.maxLength).toBe(2000);
    const list = body.paths['/api/items'].get.parameters;
    expect(list.find((p: { name: string }) => p.name === 'limit').schema).toMatchObject({ maximum: 1000 });
  });
});

describe('GET /docs', () => {
  it('serves the Swagger UI page pointing at /openapi.json, and its assets', async () => {
    const page = await request(api.app).get('/docs/').expect(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('swagger-ui');
    const init = await request(api.app).get('/docs/swagger-ui-init.js').expect(200);
    expect(init.text).toContain('/openapi.json');
    await request(api.app).get('/docs/swagger-ui-bundle.js').expect(200);
  });
});
