import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MIGRATIONS_DIR, applyMigrations, readMigrations } from '../src/db/migrations.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const require = createRequire(import.meta.url);
const schemaWasm = require('@prisma/prisma-schema-wasm') as { get_dmmf(params: string): string };

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: string;
  type: string;
  nativeType?: [string, string[]] | null;
  isRequired: boolean;
  isId: boolean;
  hasDefaultValue: boolean;
}

/** The columns schema.prisma describes, as PostgreSQL would report them. */
function expectedColumns() {
  const schema = readFileSync(path.join(MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8');
  const dmmf = JSON.parse(schemaWasm.get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schema]] })));
  const scalarType: Record<string, string> = {
    Int: 'integer',
    String: 'text',
    DateTime: 'timestamp(3) without time zone',
  };
  const nativeType: Record<string, (args: string[]) => string> = {
    VarChar: ([n]) => `character varying(${n})`,
    Timestamptz: ([p]) => `timestamp(${p}) with time zone`,
  };
  return dmmf.datamodel.models.map((model: { name: string; dbName: string | null; fields: DmmfField[] }) => ({
    table: model.dbName ?? model.name,
    columns: model.fields
      .filter((f) => f.kind === 'scalar')
      .map((f) => ({
        column: f.dbName ?? f.name,
        type: f.nativeType ? nativeType[f.nativeType[0]]!(f.nativeType[1]) : scalarType[f.type],
        nullable: !f.isRequired,
        hasDefault: f.hasDefaultValue,
        primaryKey: f.isId,
      }))
      .sort((a, b) => a.column.localeCompare(b.column)),
  }));
}

async function actualColumns() {
  const { rows } = await database.sql.query(`
    SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
           NOT a.attnotnull AS nullable, a.atthasdef AS "hasDefault",
           coalesce(a.attnum = ANY(pk.conkey), false) AS "primaryKey"
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
    WHERE c.relkind = 'r' AND c.relname <> '_prisma_migrations'
    ORDER BY c.relname, a.attname`);
  const tables = new Map<string, object[]>();
  for (const { table, ...column } of rows) tables.set(table, [...(tables.get(table) ?? []), column]);
  return [...tables].map(([table, columns]) => ({ table, columns }));
}

describe('migrations', () => {
  it('produce exactly the tables and columns schema.prisma describes', async () => {
    // Text columns without @db are `text`; Int ids with autoincrement are serial (default nextval).
    expect(await actualColumns()).toEqual(expectedColumns());
  });

  it('create the index that keyset pagination relies on (primary key on id)', async () => {
    const { rows } = await database.sql.query(
      `SELECT indexdef FROM pg_indexes WHERE tablename = 'items' AND indexname = 'items_pkey'`,
    );
    expect(rows[0].indexdef).toContain('USING btree (id)');
  });

  it('are recorded in _prisma_migrations the way Prisma Migrate records them', async () => {
    const files = await readMigrations();
    const { rows } = await database.sql.query(
      `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, rolled_back_at, applied_steps_count
       FROM _prisma_migrations ORDER BY migration_name`,
    );
    expect(rows).toEqual(
      files.map((m) => ({
        migration_name: m.name,
        checksum: createHash('sha256')
          .update(readFileSync(path.join(MIGRATIONS_DIR, m.name, 'migration.sql')))
          .digest('hex'),
        finished: true,
        rolled_back_at: null,
        applied_steps_count: 1,
      })),
    );
  });

  it('apply nothing the second time', async () => {
    expect(await applyMigrations(database.url)).toEqual([]);
  });

  it('refuse to run when an applied migration was edited afterwards', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
    try {
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      const [first] = await readMigrations(dir);
      writeFileSync(path.join(dir, first!.name, 'migration.sql'), `${first!.sql}\n-- edited\n`);
      await expect(applyMigrations(database.url, dir)).rejects.toThrow(
        `migration ${first!.name} was modified after it was applied`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('roll back a failing migration completely and leave it unrecorded', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
    try {
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      const name = '99990101000000_broken';
      cpSync(path.join(dir, (await readMigrations(dir))[0]!.name), path.join(dir, name), { recursive: true });
      writeFileSync(
        path.join(dir, name, 'migration.sql'),
        'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n',
      );
      await expect(applyMigrations(database.url, dir)).rejects.toThrow(`migration ${name} failed`);
      const leftovers = await database.sql.query(`SELECT to_regclass('half_done') AS t`);
      expect(leftovers.rows[0].t).toBeNull();
      const recorded = await database.sql.query('SELECT 1 FROM _prisma_migrations WHERE migration_name = $1', [name]);
      expect(recorded.rowCount).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
