import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import type { Express, Request, RequestHandler, Response, Router } from 'express';
import { methodNotAllowed } from './errors.js';
import { HttpProblem, problemResponse } from './problem.js';
import { parseInput } from './validation.js';
import type { z } from './zod.js';

type Method = 'get' | 'post' | 'put' | 'delete';
type Responses = Record<number, ResponseConfig>;
type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** One route: what the router mounts and what the OpenAPI document says about it. */
export interface RouteSpec<
  P extends z.ZodObject | undefined,
  Q extends z.ZodObject | undefined,
  B extends z.ZodType | undefined,
> {
  method: Method;
  /** An Express path (`/api/items/:id`); the document shows it as `/api/items/{id}`. */
  path: string;
  summary: string;
  /** Path parameters, query and JSON body: validated in that order before `handle` runs (400). */
  params?: P;
  query?: Q;
  /** The body must be JSON (415 otherwise) and match this schema. */
  body?: B;
  /** Documented only: the handler reads these headers itself. */
  headers?: z.ZodObject;
  /** Every status the route answers, beyond those added for it (304 on GET, 413/415 with a body). */
  responses: Responses;
  /** Middleware that runs first (e.g. the rate limiter). */
  before?: RequestHandler[];
  handle(
    input: { params: Parsed<P>; query: Parsed<Q>; body: Parsed<B> },
    req: Request,
    res: Response,
  ): void | Promise<void>;
}

/** A router (e.g. static files) mounted below `path`, documented as one GET operation on it. */
export interface SubtreeSpec {
  path: string;
  summary: string;
  responses: Responses;
  router: Router;
}

export interface Routes {
  define<
    P extends z.ZodObject | undefined = undefined,
    Q extends z.ZodObject | undefined = undefined,
    B extends z.ZodType | undefined = undefined,
  >(
    spec: RouteSpec<P, Q, B>,
  ): void;
  mount(spec: SubtreeSpec): void;
  /** After every route: any other method on a known path gets 405 with Allow (OPTIONS 204). */
  refuseOtherMethods(): void;
  /** The OpenAPI 3.1 document of every route defined so far. */
  document(info: { title: string; version: string; description: string }): object;
}

/** Express path `/a/:id` -> OpenAPI path `/a/{id}`. */
export const toOpenApiPath = (expressPath: string) => expressPath.replace(/:(\w+)/g, '{$1}');

const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * `If-None-Match: *` matches any current representation, so Express answers a GET carrying it
 * with 304 (RFC 9110 §13.1.2) on every route; item routes also compare their ETag.
 */
const notModified = { 304: { description: 'Not modified: If-None-Match matched (`*` always does)' } };

function requireJson(req: Request): void {
  if (!req.is(JSON_TYPES)) {
    throw new HttpProblem({
      status: 415,
      detail: 'The request body must be JSON (Content-Type: application/json).',
      headers: { 'Accept-Post': 'application/json' },
    });
  }
}

/**
 * The app's routes, each declared once: mounted on `app` and registered in the OpenAPI document
 * together, so the document lists exactly what the router serves. `bodyLimit` is the JSON
 * parser's limit, stated in the 413 of every route with a body.
 */
export function createRoutes(app: Express, { bodyLimit }: { bodyLimit: string }): Routes {
  const registry = new OpenAPIRegistry();
  const methodsByPath = new Map<string, Set<string>>();
  const allow = (path: string, method: string) =>
    methodsByPath.set(path, (methodsByPath.get(path) ?? new Set()).add(method.toUpperCase()));
  const document = (route: RouteConfig) => registry.registerPath({ ...route, path: toOpenApiPath(route.path) });

  return {
    define(spec) {
      const { method, path, summary, params, query, body, headers } = spec;
      document({
        method,
        path,
        summary,
        request: {
          ...(params && { params }),
          ...(query && { query }),
          ...(headers && { headers }),
          ...(body && { body: { required: true, content: { 'application/json': { schema: body } } } }),
        },
        responses: {
          ...spec.responses,
          ...(method === 'get' && notModified),
          ...(body && {
            413: problemResponse(`Body larger than the limit (${bodyLimit})`),
            415: problemResponse('Body is not JSON'),
          }),
        },
      });
      const handler: RequestHandler = async (req, res) => {
        const input = {
          params: params && parseInput(params, req.params, 'path'),
          query: query && parseInput(query, req.query, 'query'),
          body: body && (requireJson(req), parseInput(body, req.body, 'body')),
        } as Parameters<typeof spec.handle>[0];
        await spec.handle(input, req, res);
      };
      (app[method] as (path: string, ...handlers: RequestHandler[]) => void).call(
        app,
        path,
        ...(spec.before ?? []),
        handler,
      );
      allow(path, method);
    },

    mount({ path, summary, responses, router }) {
      document({ method: 'get', path, summary, responses: { ...responses, ...notModified } });
      app.use(path, router);
      allow(path, 'get');
    },

    refuseOtherMethods() {
      for (const [path, methods] of methodsByPath) app.all(path, methodNotAllowed([...methods]));
    },

    document(info) {
      return new OpenApiGeneratorV31(registry.definitions).generateDocument({ openapi: '3.1.0', info });
    },
  };
}
