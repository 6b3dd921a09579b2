import type { Express, Request, RequestHandler, Response } from 'express';
import { HttpProblem, ProblemType } from '../http/problem.js';
import { parseInput } from '../http/validation.js';
import { itemEtag, versionsFromIfMatch } from './etag.js';
import type { ItemRecord, ItemRepository, ListedItem } from './repository.js';
import { DEFAULT_PAGE_SIZE, itemIdParams, itemInput, listItemsQuery } from './schemas.js';

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

function requireJson(req: Request): void {
  if (!req.is(['application/json', 'application/*+json'])) {
    throw new HttpProblem({
      status: 415,
      detail: 'The request body must be JSON (Content-Type: application/json).',
      headers: { 'Accept-Post': 'application/json' },
    });
  }
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

/** Registers the items routes; `guard` (the rate limiter) runs first on each of them. */
export function registerItemRoutes(app: Express, repo: ItemRepository, guard: RequestHandler): void {
  app.get(ITEMS_PATH, guard, async (req, res) => {
    const query = parseInput(listItemsQuery, req.query, 'query');
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const { items, hasMore } = await repo.list(query.after ?? 0, limit);
    const last = items.at(-1);
    if (hasMore && last) res.setHeader('Link', `<${ITEMS_PATH}?limit=${limit}&after=${last.id}>; rel="next"`);
    res.json(items.map(toJson));
  });

  app.post(ITEMS_PATH, guard, async (req, res) => {
    requireJson(req);
    const input = parseInput(itemInput, req.body, 'body');
    const created = await repo.create(input);
    res.setHeader('Location', `${ITEMS_PATH}/${created.id}`);
    sendItem(res, 201, created);
  });

  app.get(ITEM_PATH, guard, async (req, res) => {
    const { id } = parseInput(itemIdParams, req.params, 'path');
    const found = await repo.get(id);
    if (!found) throw notFound(id);
    // res.json answers 304 itself when If-None-Match matches this ETag.
    sendItem(res, 200, found);
  });

  app.put(ITEM_PATH, guard, async (req, res) => {
    const { id } = parseInput(itemIdParams, req.params, 'path');
    requireJson(req);
    const input = parseInput(itemInput, req.body, 'body');
    const outcome = await repo.replace(id, input, ifMatch(req, id));
    if (!outcome.ok) failWrite(outcome.reason, id);
    sendItem(res, 200, outcome.value);
  });

  app.delete(ITEM_PATH, guard, async (req, res) => {
    const { id } = parseInput(itemIdParams, req.params, 'path');
    const outcome = await repo.remove(id, ifMatch(req, id));
    if (!outcome.ok) failWrite(outcome.reason, id);
    res.status(204).end();
  });
}
