/**
 * The benchmark's yardstick: the items API as a plain Express 5 + `pg` server would write it,
 * with the same routes, status codes, headers that carry meaning (ETag, Location, Link) and JSON
 * shape, but no ORM and no middleware beyond JSON parsing (no logging, rate limiter, metrics,
 * helmet or schema validation). Input checks are the minimum that keeps the status codes the same.
 * It uses named statements like the API's Prisma adapter does, so PostgreSQL does the same work
 * for both and the comparison measures the Node stacks.
 *
 *   PORT=0 DATABASE_URL=postgres://… node dist/bench/baseline-server.js   (built by `npm run bench`)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Response } from 'express';
import pg from 'pg';

interface ItemRow {
  id: number;
  name: string;
  description: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = 'id, name, description, version, created_at AS "createdAt", updated_at AS "updatedAt"';
const MAX_ID = 2_147_483_647;

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

const toJson = (item: ItemRow) => ({
  id: item.id,
  name: item.name,
  description: item.description,
  createdAt: item.createdAt.toISOString(),
  updatedAt: item.updatedAt.toISOString(),
});

function sendItem(res: Response, status: number, item: ItemRow): void {
  res.status(status).setHeader('ETag', `"${item.id}.${item.version}"`);
  res.json(toJson(item));
}

function integer(value: unknown, min: number, max: number): number | undefined {
  if (typeof value !== 'string' || !/^[0-9]{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

function validBody(body: unknown): body is { name: string; description?: string | null } {
  const { name, description } = (body ?? {}) as { name?: unknown; description?: unknown };
  return (
    typeof name === 'string' &&
    name.trim() !== '' &&
    (description === undefined || description === null || typeof description === 'string')
  );
}

const badRequest = (res: Response) => res.status(400).json({ status: 400, title: 'Bad Request' });
const notFound = (res: Response) => res.status(404).json({ status: 404, title: 'Not Found' });

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json());

app.get('/api/items', async (req, res) => {
  const limit = req.query.limit === undefined ? 100 : integer(req.query.limit, 1, 1000);
  const after = req.query.after === undefined ? 0 : integer(req.query.after, 0, MAX_ID);
  if (limit === undefined || after === undefined) return badRequest(res);
  const { rows } = await pool.query<ItemRow>({
    name: 'list',
    text: `SELECT ${COLUMNS} FROM items WHERE id > $1 ORDER BY id LIMIT $2`,
    values: [after, limit + 1],
  });
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  if (rows.length > limit && last) res.setHeader('Link', `</api/items?limit=${limit}&after=${last.id}>; rel="next"`);
  res.json(items.map(toJson));
});

app.post('/api/items', async (req, res) => {
  if (!validBody(req.body)) return badRequest(res);
  const { rows } = await pool.query<ItemRow>({
    name: 'create',
    text: `INSERT INTO items (name, description) VALUES ($1, $2) RETURNING ${COLUMNS}`,
    values: [req.body.name.trim(), req.body.description ?? null],
  });
  const created = rows[0]!;
  res.setHeader('Location', `/api/items/${created.id}`);
  sendItem(res, 201, created);
});

app.get('/api/items/:id', async (req, res) => {
  const id = integer(req.params.id, 1, MAX_ID);
  if (id === undefined) return badRequest(res);
  const { rows } = await pool.query<ItemRow>({
    name: 'get',
    text: `SELECT ${COLUMNS} FROM items WHERE id = $1`,
    values: [id],
  });
  if (!rows[0]) return notFound(res);
  sendItem(res, 200, rows[0]);
});

app.put('/api/items/:id', async (req, res) => {
  const id = integer(req.params.id, 1, MAX_ID);
  if (id === undefined || !validBody(req.body)) return badRequest(res);
  const { rows } = await pool.query<ItemRow>({
    name: 'update',
    text: `UPDATE items SET name = $2, description = $3, version = version + 1, updated_at = now()
           WHERE id = $1 RETURNING ${COLUMNS}`,
    values: [id, req.body.name.trim(), req.body.description ?? null],
  });
  if (!rows[0]) return notFound(res);
  sendItem(res, 200, rows[0]);
});

app.delete('/api/items/:id', async (req, res) => {
  const id = integer(req.params.id, 1, MAX_ID);
  if (id === undefined) return badRequest(res);
  const { rowCount } = await pool.query({ name: 'delete', text: 'DELETE FROM items WHERE id = $1', values: [id] });
  if (!rowCount) return notFound(res);
  res.status(204).end();
});

const server = http.createServer(app);
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 5001), () => {
  // The same "listening" line as the API's, so the bench starts both the same way.
  console.log(JSON.stringify({ msg: 'listening', port: (server.address() as AddressInfo).port }));
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end();
});
