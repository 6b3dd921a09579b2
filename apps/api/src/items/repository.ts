import type { Database } from '../db/prisma.js';
import { isRecordNotFound } from '../db/errors.js';
import type { ItemInput } from './schemas.js';

export interface ItemRecord {
  id: number;
  name: string;
  description: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Outcome of a conditional write: `missing` = no such id, `stale` = If-Match did not match. */
export type WriteOutcome<T> = { ok: true; value: T } | { ok: false; reason: 'missing' | 'stale' };

export interface ItemRepository {
  /** Keyset page: at most `limit` items with id > `after`, plus whether more exist. */
  list(after: number, limit: number): Promise<{ items: ItemRecord[]; hasMore: boolean }>;
  get(id: number): Promise<ItemRecord | null>;
  create(input: ItemInput): Promise<ItemRecord>;
  /** `versions` restricts the write to those versions (from If-Match); undefined = any. */
  replace(id: number, input: ItemInput, versions?: number[]): Promise<WriteOutcome<ItemRecord>>;
  remove(id: number, versions?: number[]): Promise<WriteOutcome<null>>;
}

export function createItemRepository(db: Database): ItemRepository {
  async function failure(id: number): Promise<{ ok: false; reason: 'missing' | 'stale' }> {
    const exists = await db.item.findUnique({ where: { id }, select: { id: true } });
    return { ok: false, reason: exists ? 'stale' : 'missing' };
  }

  return {
    async list(after, limit) {
      // Served by the primary key index: the cost depends on `limit`, not on the table size.
      const rows = await db.item.findMany({
        where: { id: { gt: after } },
        orderBy: { id: 'asc' },
        take: limit + 1,
      });
      return { items: rows.slice(0, limit), hasMore: rows.length > limit };
    },

    get: (id) => db.item.findUnique({ where: { id } }),

    create: (input) => db.item.create({ data: { name: input.name, description: input.description ?? null } }),

    async replace(id, input, versions) {
      try {
        // One statement: the version check and the write cannot be interleaved by another writer.
        const value = await db.item.update({
          where: { id, ...(versions ? { version: { in: versions } } : {}) },
          data: { name: input.name, description: input.description ?? null, version: { increment: 1 } },
        });
        return { ok: true, value };
      } catch (error) {
        if (isRecordNotFound(error)) return failure(id);
        throw error;
      }
    },

    async remove(id, versions) {
      try {
        await db.item.delete({ where: { id, ...(versions ? { version: { in: versions } } : {}) } });
        return { ok: true, value: null };
      } catch (error) {
        if (isRecordNotFound(error)) return failure(id);
        throw error;
      }
    },
  };
}
