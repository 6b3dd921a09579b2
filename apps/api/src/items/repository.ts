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

export type ListedItem = Omit<ItemRecord, 'version'>;

/** Outcome of a conditional write: `missing` = no such id, `stale` = If-Match did not match. */
export type WriteOutcome<T> = { ok: true; value: T } | { ok: false; reason: 'missing' | 'stale' };

export interface ItemRepository {
  /** Keyset page: at most `limit` items with id > `after`, plus whether more exist (no versions: lists carry no ETags). */
  list(after: number, limit: number): Promise<{ items: ListedItem[]; hasMore: boolean }>;
  get(id: number): Promise<ItemRecord | null>;
  create(input: ItemInput): Promise<ItemRecord>;
  /** `versions` restricts the write to those versions (from If-Match); undefined = any. */
  replace(id: number, input: ItemInput, versions?: number[]): Promise<WriteOutcome<ItemRecord>>;
  remove(id: number, versions?: number[]): Promise<WriteOutcome<null>>;
}

export function createItemRepository(db: Database): ItemRepository {
  /**
   * Runs one conditional write (the version check and the write are one statement, so no other
   * writer can interleave); when no row matched, tells a missing item from a stale version.
   */
  async function conditionally<T>(
    id: number,
    versions: number[] | undefined,
    write: (where: { id: number; version?: { in: number[] } }) => Promise<T>,
  ): Promise<WriteOutcome<T>> {
    try {
      return { ok: true, value: await write(versions ? { id, version: { in: versions } } : { id }) };
    } catch (error) {
      if (!isRecordNotFound(error)) throw error;
      const exists = await db.item.findUnique({ where: { id }, select: { id: true } });
      return { ok: false, reason: exists ? 'stale' : 'missing' };
    }
  }

  return {
    async list(after, limit) {
      // Served by the primary key index: the cost depends on `limit`, not on the table size.
      const rows = await db.item.findMany({
        where: { id: { gt: after } },
        orderBy: { id: 'asc' },
        take: limit + 1,
        // Only what the page shows: every column costs Prisma's result mapping once per row.
        omit: { version: true },
      });
      return { items: rows.slice(0, limit), hasMore: rows.length > limit };
    },

    get: (id) => db.item.findUnique({ where: { id } }),

    create: (input) => db.item.create({ data: { name: input.name, description: input.description ?? null } }),

    replace: (id, input, versions) =>
      conditionally(id, versions, (where) =>
        db.item.update({
          where,
          data: { name: input.name, description: input.description ?? null, version: { increment: 1 } },
        }),
      ),

    remove: (id, versions) =>
      conditionally(id, versions, async (where) => {
        await db.item.delete({ where });
        return null;
      }),
  };
}
