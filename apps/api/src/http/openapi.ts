import express from 'express';
import swaggerUi from 'swagger-ui-express';
import { problemResponse } from './problem.js';
import type { Routes } from './routes.js';
import { z } from './zod.js';

const DESCRIPTION =
  'CRUD over items. Every error is application/problem+json (RFC 9457), including those of the HTTP parser ' +
  '(400 malformed request, 408 request timeout, 431 headers too large, 417 unsupported Expect), which ' +
  'carry a request id but, having no parsed URL, an `instance` of the form urn:uuid:<requestId>.';

/**
 * Swagger UI at /docs/: its page, its init script and its static assets, for GET and HEAD only.
 * Anything else leaves the router: other methods on /docs get the app's 405, unknown files its
 * 404. (swagger-ui-express alone would answer its page to any method and path.)
 */
function swaggerUiRouter(): express.Router {
  const page = swaggerUi.setup(undefined, { swaggerOptions: { url: '/openapi.json' } });
  const docs = express.Router({ strict: true });
  docs.use((req, _res, next) => next(req.method === 'GET' || req.method === 'HEAD' ? undefined : 'router'));
  // Serves swagger-ui-init.js and the package's files; redirects /docs to /docs/.
  docs.use(swaggerUi.serve);
  docs.get('/', page);
  return docs;
}

/**
 * /openapi.json and the Swagger UI at /docs. Defined after every other route: the OpenAPI 3.1
 * document is generated here from the routes' own definitions (the zod schemas that validate
 * requests), so it cannot drift from what the router serves.
 */
export function serveDocumentation(routes: Routes, version: string): void {
  routes.define({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    responses: {
      200: {
        description: 'OpenAPI 3.1 document',
        content: { 'application/json': { schema: z.object({ openapi: z.literal('3.1.0') }).loose() } },
      },
    },
    handle(_input, _req, res) {
      res.json(document);
    },
  });
  routes.mount({
    path: '/docs',
    summary: 'Interactive documentation (Swagger UI); /docs redirects to /docs/, which serves the page',
    responses: {
      200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } },
      301: { description: 'From /docs to /docs/ (the page loads its assets relative to it)' },
      404: problemResponse('No such file below /docs/'),
      405: problemResponse('Only GET and HEAD'),
    },
    router: swaggerUiRouter(),
  });
  const document = routes.document({ title: 'Items API', version, description: DESCRIPTION });
}
