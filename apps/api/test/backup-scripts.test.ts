// The backup scripts the CronJobs run (gitops/components/backup/scripts), run for real against
// the embedded PostgreSQL 17 with PostgreSQL 17's own pg_dump/pg_restore (.tools/bin, from
// scripts/install-tools.sh postgresql): back up, lose the data, restore, and get the same rows
// and sequence values back; keep the newest N dumps; refuse corrupt dumps; drill a restore.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, copyFile, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { REPO_ROOT } from './support/paths.js';

const SCRIPTS = path.join(REPO_ROOT, 'gitops', 'components', 'backup', 'scripts');
const TOOLS_BIN = path.join(REPO_ROOT, '.tools', 'bin');

// The scripts run as an unprivileged user, as in the pod (initdb refuses root): as root, that
// is the postgres user the embedded server already runs as.
const asRoot = os.userInfo().uid === 0;
const runAs = asRoot
  ? {
      uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
      gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
    }
  : {};

interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

let database: TestDatabase;
let backupDir: string;
let workDir: string;

function script(name: string, args: string[] = [], env: Record<string, string> = {}): Promise<ScriptResult> {
  const url = new URL(database.url);
  return new Promise((resolve) => {
    execFile(
      'bash',
      [path.join(SCRIPTS, name), ...args],
      {
        ...runAs,
        cwd: workDir,
        timeout: 120_000,
        env: {
          PATH: `${TOOLS_BIN}${path.delimiter}${process.env.PATH ?? ''}`,
          HOME: workDir,
          PGHOST: url.hostname,
          PGPORT: url.port,
          PGUSER: decodeURIComponent(url.username),
          PGPASSWORD: decodeURIComponent(url.password),
          PGDATABASE: url.pathname.slice(1),
          BACKUP_DIR: backupDir,
          DRILL_DIR: path.join(workDir, 'drill'),
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function backup(env: Record<string, string> = {}): Promise<string> {
  const result = await script('backup.sh', [], env);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  return result.stdout.trim();
}

const dumps = async () => (await readdir(backupDir)).filter((f) => f.endsWith('.dump')).sort();

async function itemsState() {
  const rows = await database.sql.query('SELECT id, name, description, version, created_at FROM items ORDER BY id');
  const sequence = await database.sql.query('SELECT last_value, is_called FROM items_id_seq');
  return { rows: rows.rows as unknown[], sequence: sequence.rows[0] as unknown };
}

beforeAll(async () => {
  for (const program of ['pg_dump', 'pg_restore', 'psql', 'initdb'])
    if (!existsSync(path.join(TOOLS_BIN, program)))
      throw new Error(`${program} is not in .tools/bin: run \`bash scripts/install-tools.sh postgresql\``);
  database = await createTestDatabase();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'backup-scripts-'));
  backupDir = path.join(workDir, 'backups');
  if (asRoot) await chown(workDir, runAs.uid as number, runAs.gid as number);
  // Ids 1-3 used, 2 deleted and a gap left by a rolled-back insert: the sequence is ahead of max(id).
  await database.sql.query(`INSERT INTO items (name, description) VALUES ('a', NULL), ('b', 'second'), ('c', 'ü ✓')`);
  await database.sql.query(`DELETE FROM items WHERE name = 'b'`);
  await database.sql.query(`SELECT nextval('items_id_seq')`);
}, 60_000);

afterAll(async () => {
  await database?.drop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('backup.sh and restore.sh', () => {
  it('uses PostgreSQL 17 client programs, the server major version', async () => {
    const version = execFileSync(path.join(TOOLS_BIN, 'pg_dump'), ['--version'], { encoding: 'utf8' });
    expect(version).toMatch(/\(PostgreSQL\) 17\./);
    const server = await database.sql.query('SHOW server_version_num');
    expect(Math.floor(Number((server.rows[0] as { server_version_num: string }).server_version_num) / 10000)).toBe(17);
  });

  it('writes a verified dump readable by its owner only, with the row counts of its snapshot', async () => {
    const name = await backup();
    expect(name).toMatch(/^items_test_[0-9a-f]+-\d{8}T\d{6}Z\.dump$/);
    expect(await dumps()).toEqual([name]);
    for (const file of [name, `${name}.sha256`, `${name}.counts`])
      expect([file, (await stat(path.join(backupDir, file))).mode & 0o077]).toEqual([file, 0]);
    expect(await readFile(path.join(backupDir, `${name}.counts`), 'utf8')).toBe(
      'public._prisma_migrations\t1\npublic.items\t2\n',
    );
    expect((await script('verify.sh', [path.join(backupDir, name)])).code).toBe(0);
  });

  it('restores the latest dump after the table is dropped: same rows, same sequence value', async () => {
    const before = await itemsState();
    await backup();
    await database.sql.query('DROP TABLE items');

    const restore = await script('restore.sh');
    expect(restore.stderr).toMatch(/row counts match the dump: 2 tables, 3 rows/);
    expect(restore.code).toBe(0);
    expect(await itemsState()).toEqual(before);
    // New rows continue after the restored sequence, not from 1.
    const next = await database.sql.query(`INSERT INTO items (name) VALUES ('after') RETURNING id`);
    expect((next.rows[0] as { id: number }).id).toBe(5);
    await database.sql.query(`DELETE FROM items WHERE name = 'after'`);
  });

  it('restores a named dump: rows written after it are gone again', async () => {
    const [first] = await dumps();
    await database.sql.query(`INSERT INTO items (name) VALUES ('written later')`);
    const restore = await script('restore.sh', [first as string]);
    expect(restore.code).toBe(0);
    const names = await database.sql.query('SELECT name FROM items ORDER BY id');
    expect(names.rows).toEqual([{ name: 'a' }, { name: 'c' }]);
  });

  it('exits non-zero with the difference when the restored counts differ from the dump', async () => {
    const [name] = (await dumps()).slice(-1);
    const counts = path.join(backupDir, `${name}.counts`);
    const original = await readFile(counts, 'utf8');
    await writeFile(counts, original.replace('public.items\t2', 'public.items\t3'));
    try {
      const restore = await script('restore.sh', [name as string]);
      expect(restore.code).not.toBe(0);
      expect(restore.stderr).toMatch(/ROW COUNT MISMATCH/);
    } finally {
      await writeFile(counts, original);
    }
  });
});

describe('verify.sh', () => {
  const corruptCopy = async (corrupt: (file: string) => Promise<void>) => {
    const [name] = (await dumps()).slice(-1);
    const file = path.join(workDir, `corrupt-${Math.random().toString(16).slice(2)}.dump`);
    await copyFile(path.join(backupDir, name as string), file);
    await corrupt(file);
    if (asRoot) await chown(file, runAs.uid as number, runAs.gid as number);
    return file;
  };

  it('rejects a truncated dump, though its table of contents still lists', async () => {
    const file = await corruptCopy(async (f) => truncate(f, (await stat(f)).size - 200));
    const result = await script('verify.sh', [file]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/cannot be read back|cannot read/);
  });

  it('rejects a file that is not a dump, and an empty one', async () => {
    const garbage = await corruptCopy((f) => writeFile(f, 'not a dump at all\n'));
    expect((await script('verify.sh', [garbage])).code).not.toBe(0);
    const empty = await corruptCopy((f) => truncate(f, 0));
    const result = await script('verify.sh', [empty]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/missing or empty/);
  });

  it('rejects a dump whose checksum no longer matches the one recorded when it was written', async () => {
    const [name] = (await dumps()).slice(-1);
    const sums = path.join(backupDir, `${name}.sha256`);
    const original = await readFile(sums, 'utf8');
    await writeFile(sums, original.replace(/^[0-9a-f]{64}/, '0'.repeat(64)));
    try {
      const result = await script('verify.sh', [path.join(backupDir, name as string)]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/checksum recorded when it was written does not match/);
    } finally {
      await writeFile(sums, original);
    }
  });

  it('restore.sh refuses a corrupt dump and leaves the database as it was', async () => {
    const before = await itemsState();
    const [name] = (await dumps()).slice(-1);
    const file = path.join(backupDir, name as string);
    const original = await readFile(file);
    await truncate(file, original.length - 200);
    try {
      const restore = await script('restore.sh', [name as string]);
      expect(restore.code).not.toBe(0);
      expect(await itemsState()).toEqual(before);
    } finally {
      await writeFile(file, original);
    }
  });
});

describe('prune.sh (run by backup.sh)', () => {
  it('keeps the newest RETENTION dumps with their files and removes leftovers of interrupted runs', async () => {
    const [real] = await dumps();
    // Older dumps: copies of a real one under earlier timestamps.
    const older = ['2020-01-01', '2020-01-02', '2020-01-03', '2020-01-04'].map(
      (day) => `items-${day.replaceAll('-', '')}T020000Z.dump`,
    );
    for (const name of older) {
      for (const suffix of ['', '.sha256', '.counts'])
        await copyFile(path.join(backupDir, `${real}${suffix}`), path.join(backupDir, `${name}${suffix}`));
    }
    await writeFile(path.join(backupDir, '.items-20200105T020000Z.dump.partial'), 'interrupted');
    const existing = (await dumps()).filter((n) => !older.includes(n));

    const newest = await backup({ RETENTION: '3' });

    const kept = await dumps();
    expect(kept).toHaveLength(3);
    expect(kept).toContain(newest);
    // Every kept dump is newer than every removed one.
    // (Names have second resolution: a backup in the same second as an earlier one replaces it.)
    const all = [...new Set([...older, ...existing, newest])].sort();
    expect(kept).toEqual(all.slice(-3));
    const files = await readdir(backupDir);
    expect(files.sort()).toEqual(kept.flatMap((n) => [n, `${n}.counts`, `${n}.sha256`]).sort());
  });

  it('refuses a retention that is not a positive number', async () => {
    const result = await script('prune.sh', [], { RETENTION: '0' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/RETENTION must be a positive number/);
    expect(await dumps()).toHaveLength(3);
  });
});

describe('drill.sh', () => {
  it('restores the latest dump into a throwaway server and matches the source row counts', async () => {
    const result = await script('drill.sh');
    expect(result.stderr).toMatch(/row counts match the dump: 2 tables, 3 rows/);
    expect(result.stderr).toMatch(/DRILL PASSED/);
    expect(result.code).toBe(0);
    // The throwaway server is gone afterwards.
    expect(existsSync(path.join(workDir, 'drill', 'data', 'postmaster.pid'))).toBe(false);
  }, 60_000);

  it('fails loudly when the restored rows do not match the counts taken with the dump', async () => {
    const [name] = (await dumps()).slice(-1);
    const counts = path.join(backupDir, `${name}.counts`);
    const original = await readFile(counts, 'utf8');
    await writeFile(counts, original.replace('public.items\t2', 'public.items\t7'));
    try {
      const result = await script('drill.sh');
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/ROW COUNT MISMATCH/);
      expect(result.stderr).toMatch(/-public\.items\t7\n\+public\.items\t2/);
    } finally {
      await writeFile(counts, original);
    }
  }, 60_000);
});
