import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ITEMS_PATH, ITEM_PATH } from '../items/routes.js';
import {
  healthReport,
  item,
  itemIdParams,
  itemInput,
  listItemsQuery,
  liveness,
  problem,
  shuttingDown,
} from '../items/schemas.js';

/** Express path `/a/:id` -> OpenAPI path `/a/{id}`. */
export const toOpenApiPath = (expressPath: string) => expressPath.replace(/:(\w+)/g, '{$1}');

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problem } },
});

/**
 * `If-None-Match: *` matches any current representation, so a GET carrying it is answered 304
 * (RFC 9110 §13.1.2) on every route that has one; item routes also compare their ETag.
 */
const notModified = { 304: { description: 'Not modified: If-None-Match matched (`*` always does)' } };

const etagHeader = z.string().openapi({ description: 'Strong validator for If-Match / If-None-Match' });

/**
 * The OpenAPI 3.1 document, built from the same zod schemas that validate requests, so the
 * documentation cannot drift from the behaviour.
 */
export function buildOpenApiDocument(version: string, bodyLimit: string) {
  const registry = new OpenAPIRegistry();
  const common = {
    429: problemResponse('Rate limit exceeded; see the RateLimit and RateLimit-Policy headers'),
    503: problemResponse('Database unavailable; retry later'),
  };
  const itemJson = { 'application/json': { schema: item } };
  const itemBody = { body: { required: true, content: { 'application/json': { schema: itemInput } } } };
  const ifMatch = z.object({
    'if-match': z.string().optional().openapi({ description: 'Only write if the item still has this ETag' }),
  });

  registry.registerPath({
    method: 'get',
    path: ITEMS_PATH,
    summary: 'List items ordered by id (keyset pagination)',
    request: { query: listItemsQuery },
    responses: {
      200: {
        description: 'A page of items; a `Link: <…>; rel="next"` header when more exist',
        headers: z.object({ Link: z.string().optional() }),
        content: { 'application/json': { schema: z.array(item) } },
      },
      ...notModified,
      400: problemResponse('Invalid limit or after'),
      ...common,
    },
  });
  registry.registerPath({
    method: 'post',
    path: ITEMS_PATH,
    summary: 'Create an item',
    request: itemBody,
    responses: {
      201: {
        description: 'Created',
        headers: z.object({ Location: z.string(), ETag: etagHeader }),
        content: itemJson,
      },
      400: problemResponse('Malformed JSON or invalid fields'),
      413: problemResponse(`Body larger than the limit (${bodyLimit})`),
      415: problemResponse('Body is not JSON'),
      ...common,
    },
  });
  registry.registerPath({
    method: 'get',
    path: toOpenApiPath(ITEM_PATH),
    summary: 'Get one item',
    request: { params: itemIdParams },
    responses: {
      200: { description: 'The item', headers: z.object({ ETag: etagHeader }), content: itemJson },
      ...notModified,
      400: problemResponse('The id is not a positive integer in range'),
      404: problemResponse('No such item'),
      ...common,
    },
  });
  registry.registerPath({
    method: 'put',
    path: toOpenApiPath(ITEM_PATH),
    summary: 'Replace an item',
    request: { params: itemIdParams, headers: ifMatch, ...itemBody },
    responses: {
      200: { description: 'Replaced', headers: z.object({ ETag: etagHeader }), content: itemJson },
      400: problemResponse('Invalid id, malformed JSON or invalid fields'),
      404: problemResponse('No such item'),
      412: problemResponse('The item changed since the If-Match ETag'),
      413: problemResponse(`Body larger than the limit (${bodyLimit})`),
      415: problemResponse('Body is not JSON'),
      ...common,
    },
  });
  registry.registerPath({
    method: 'delete',
    path: toOpenApiPath(ITEM_PATH),
    summary: 'Delete an item',
    request: { params: itemIdParams, headers: ifMatch },
    responses: {
      204: { description: 'Deleted' },
      400: problemResponse('The id is not a positive integer in range'),
      404: problemResponse('No such item'),
      412: problemResponse('The item changed since the If-Match ETag'),
      ...common,
    },
  });

  const health = { 'application/health+json': { schema: healthReport } };
  registry.registerPath({
    method: 'get',
    path: '/health',
    summary: 'Health report with a database check',
    responses: {
      200: { description: 'Healthy', content: health },
      ...notModified,
      503: { description: 'Database failing', content: health },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/health/live',
    summary: 'Liveness: the process is running (never touches the database)',
    responses: {
      200: { description: 'Alive', content: { 'application/health+json': { schema: liveness } } },
      ...notModified,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/health/ready',
    summary: 'Readiness: database reachable and not shutting down',
    responses: {
      200: { description: 'Ready', content: health },
      ...notModified,
      503: {
        description: 'Not ready: the database check failed, or shutdown has started (then without a check)',
        content: { 'application/health+json': { schema: z.union([healthReport, shuttingDown]) } },
      },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    responses: {
      200: {
        description: 'OpenAPI 3.1 document',
        content: { 'application/json': { schema: z.object({ openapi: z.literal('3.1.0') }).loose() } },
      },
      ...notModified,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs',
    summary: 'Interactive documentation (Swagger UI); /docs redirects to /docs/, which serves the page',
    responses: {
      200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } },
      301: { description: 'From /docs to /docs/ (the page loads its assets relative to it)' },
      ...notModified,
      404: problemResponse('No such file below /docs/'),
      405: problemResponse('Only GET and HEAD'),
    },
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Items API',
      version,
      description:
        'CRUD over items. Every error is application/problem+json (RFC 9457), including those of the HTTP parser ' +
        '(400 malformed request, 408 request timeout, 431 headers too large, 417 unsupported Expect), which ' +
        'carry a request id but, having no parsed URL, an `instance` of the form urn:uuid:<requestId>.',
    },
  });
}
