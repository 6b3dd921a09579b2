import type { Request, RequestHandler, Response } from 'express';
import { HttpProblem, ProblemType, problemResponse } from '../http/problem.js';
import type { Routes } from '../http/routes.js';
import { z } from '../http/zod.js';
import { itemEtag, versionsFromIfMatch } from './etag.js';
import type { ItemRecord, ItemRepository, ListedItem } from './repository.js';
import { DEFAULT_PAGE_SIZE, item, itemIdParams, itemInput, listItemsQuery } from './schemas.js';

export const ITEMS_PATH = '/api/items';
export const ITEM_PATH = '/api/items/:id';

function toJson(item: ListedItem) {
  return {
    id: item.id,
    name: item.name,
    description: item.description,
    createdAt: item.createdAt.toISOString(),
    updatedAt: item.updatedAt.toISOString(),
  };
}

function notFound(id: number): HttpProblem {
  return new HttpProblem({ status: 404, detail: `Item ${id} does not exist.` });
}

function ifMatch(req: Request, id: number): number[] | undefined {
  return versionsFromIfMatch(req.get('If-Match'), id);
}

function failWrite(reason: 'missing' | 'stale', id: number): never {
  if (reason === 'missing') throw notFound(id);
  throw new HttpProblem({
    status: 412,
    type: ProblemType.preconditionFailed,
    title: 'Precondition Failed',
    detail: `Item ${id} has changed since the version named in If-Match; fetch it again and retry.`,
  });
}

function sendItem(res: Response, status: number, item: ItemRecord): void {
  res.status(status).setHeader('ETag', itemEtag(item));
  res.json(toJson(item));
}

const itemJson = { 'application/json': { schema: item } };
const etagHeader = z.string().openapi({ description: 'Strong validator for If-Match / If-None-Match' });
const ifMatchHeader = z.object({
  'if-match': z.string().optional().openapi({ description: 'Only write if the item still has this ETag' }),
});
/** What every items route may answer besides its own statuses. */
const common = {
  429: problemResponse('Rate limit exceeded; see the RateLimit and RateLimit-Policy headers'),
  503: problemResponse('Database unavailable; retry later'),
};

/** Registers the items routes; `guard` (the rate limiter, hence the 429) runs first on each of them. */
export function registerItemRoutes(routes: Routes, repo: ItemRepository, guard: RequestHandler): void {
  const before = [guard];

  routes.define({
    method: 'get',
    path: ITEMS_PATH,
    summary: 'List items ordered by id (keyset pagination)',
    query: listItemsQuery,
    responses: {
      200: {
        description: 'A page of items; a `Link: <…>; rel="next"` header when more exist',
        headers: z.object({ Link: z.string().optional() }),
        content: { 'application/json': { schema: z.array(item) } },
      },
      400: problemResponse('Invalid limit or after'),
      ...common,
    },
    before,
    async handle({ query }, _req, res) {
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const { items, hasMore } = await repo.list(query.after ?? 0, limit);
      const last = items.at(-1);
      if (hasMore && last) res.setHeader('Link', `<${ITEMS_PATH}?limit=${limit}&after=${last.id}>; rel="next"`);
      res.json(items.map(toJson));
    },
  });

  routes.define({
    method: 'post',
    path: ITEMS_PATH,
    summary: 'Create an item',
    body: itemInput,
    responses: {
      201: {
        description: 'Created',
        headers: z.object({ Location: z.string(), ETag: etagHeader }),
        content: itemJson,
      },
      400: problemResponse('Malformed JSON or invalid fields'),
      ...common,
    },
    before,
    async handle({ body }, _req, res) {
      const created = await repo.create(body);
      res.setHeader('Location', `${ITEMS_PATH}/${created.id}`);
      sendItem(res, 201, created);
    },
  });

  routes.define({
    method: 'get',
    path: ITEM_PATH,
    summary: 'Get one item',
    params: itemIdParams,
    responses: {
      200: { description: 'The item', headers: z.object({ ETag: etagHeader }), content: itemJson },
      400: problemResponse('The id is not a positive integer in range'),
      404: problemResponse('No such item'),
      ...common,
    },
    before,
    async handle({ params: { id } }, _req, res) {
      const found = await repo.get(id);
      if (!found) throw notFound(id);
      // res.json answers 304 itself when If-None-Match matches this ETag.
      sendItem(res, 200, found);
    },
  });

  routes.define({
    method: 'put',
    path: ITEM_PATH,
    summary: 'Replace an item',
    params: itemIdParams,
    headers: ifMatchHeader,
    body: itemInput,
    responses: {
      200: { description: 'Replaced', headers: z.object({ ETag: etagHeader }), content: itemJson },
      400: problemResponse('Invalid id, malformed JSON or invalid fields'),
      404: problemResponse('No such item'),
      412: problemResponse('The item changed since the If-Match ETag'),
      ...common,
    },
    before,
    async handle({ params: { id }, body }, req, res) {
      const outcome = await repo.replace(id, body, ifMatch(req, id));
      if (!outcome.ok) failWrite(outcome.reason, id);
      sendItem(res, 200, outcome.value);
    },
  });

  routes.define({
    method: 'delete',
    path: ITEM_PATH,
    summary: 'Delete an item',
    params: itemIdParams,
    headers: ifMatchHeader,
    responses: {
      204: { description: 'Deleted' },
      400: problemResponse('The id is not a positive integer in range'),
      404: problemResponse('No such item'),
      412: problemResponse('The item changed since the If-Match ETag'),
      ...common,
    },
    before,
    async handle({ params: { id } }, req, res) {
      const outcome = await repo.remove(id, ifMatch(req, id));
      if (!outcome.ok) failWrite(outcome.reason, id);
      res.status(204).end();
    },
  });
}
