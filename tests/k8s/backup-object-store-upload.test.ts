// The backups' object-store option (gitops/components/backup-object-store) run for real, not only
// rendered: staging with the option added is rendered, and the containers of its backup, restore
// and drill pods run on this machine (local-pod.ts: their rendered command, args and env; mount
// paths mapped to directories; the pinned PostgreSQL 17 programs and rclone from .tools/bin)
// against the embedded PostgreSQL 17 and an S3 server on loopback. The backup pod dumps real rows,
// verifies the dump and uploads it; the claim and the database are lost; the restore pod fetches the
// dumps from the bucket and every row and the sequence come back. The bucket keeps its dumps for
// 8 days, never takes a changed or unverified one, and the weekly drill passes from the bucket alone.
// Stand-in: the S3 server is `rclone serve s3` (rclone's own S3 server, at the release the pods
// run) instead of Garage, which cannot be built or fetched here.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { applyMigrations } from '../../apps/api/src/db/migrations.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../apps/api/src/dev/embedded-postgres.js';
import { createDatabaseIfMissing } from '../../apps/api/src/dev/local-database.js';
import type { KubeObject } from '../support/kube-apiserver.js';
import { note } from '../support/notes.js';
import { prepareRenderTree, type RenderTree } from '../support/overlays.js';
import { freePort, spawnLogged, stopProcess, tail } from '../support/processes.js';
import { versions } from '../support/repository.js';
import { runOk, tool, toolsEnv } from '../support/tools.js';
import { waitFor } from '../support/wait.js';
import { cronJobPodSpec, dataOf, findGenerated, renderStagingWithObjectStore, type Container } from './helpers.js';
import { LocalPod, userDir, writeUserFiles, type ContainerResult, type EnvVar } from './local-pod.js';

jest.setTimeout(180_000);

const DAY_MS = 24 * 60 * 60 * 1000;
const ITEMS = 200;

let tree: RenderTree;
let staging: KubeObject[] = [];
let work: string;
let pgDir: string;
let database: EmbeddedDatabase;
let sql: pg.Pool;
let databaseName: string;
let s3: ChildProcess | undefined;
let s3Log: string;
let bucket: string;
/** The S3 server's backing directory for the bucket: what the store holds. */
let bucketDir: string;
/** Secret volumes: the database credentials, and rclone.conf with the remote `store`. */
let postgresSecret: string;
let objectStoreSecret: string;
/** rclone.conf of the test itself, to arrange and read the bucket through the S3 API. */
let rcloneConfig: string;
let claim: string;
let firstDump: string;
let dumpBytes = 0;
const pods: LocalPod[] = [];
const timings: Record<string, number> = {};

const spec = (cronJob: string) => cronJobPodSpec(staging, cronJob);
const container = (cronJob: string, name: string): Container => {
  const pod = spec(cronJob);
  const found = [...(pod.initContainers ?? []), ...pod.containers].find((c) => c.name === name);
  if (!found) throw new Error(`${cronJob} has no container ${name}`);
  return found;
};
const envOf = (c: Container) => Object.fromEntries(((c.env ?? []) as EnvVar[]).map((e) => [e.name, e.value]));

/** A pod of a CronJob, run here: PostgreSQL's Service is the embedded server on loopback. */
function pod(cronJob: string, volumes: Record<string, string>): LocalPod {
  const local = new LocalPod(spec(cronJob), {
    objects: staging,
    volumes: { 'postgres-secret': postgresSecret, 'object-store': objectStoreSecret, ...volumes },
    env: { PGHOST: '127.0.0.1', PGPORT: String(database.port) },
  });
  pods.push(local);
  return local;
}

const outcome = (results: ContainerResult[]) => results.map((r) => [r.name, r.code]);
const explain = (results: ContainerResult[]) =>
  results.map((r) => `--- ${r.name} (exit ${r.code})\n${r.stdout}${r.stderr}`).join('\n');
function time(results: ContainerResult[]) {
  for (const r of results) timings[r.name] = r.seconds;
}

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
const filesIn = async (dir: string) => (await readdir(dir)).sort();
const dumpFiles = (name: string) => [name, `${name}.counts`, `${name}.sha256`];
/** The bucket as the S3 API lists it (the test's own rclone, not the pods'). */
async function listBucket(...flags: string[]) {
  const out = await runOk(tool('rclone'), ['lsjson', `store:${bucket}`, ...flags], {
    env: toolsEnv({ RCLONE_CONFIG: rcloneConfig }),
  });
  return (JSON.parse(out) as { Name: string; Size: number; ModTime: string }[]).sort((a, b) =>
    a.Name < b.Name ? -1 : 1,
  );
}

async function itemsState() {
  const rows = await sql.query('SELECT id, name, description, version, created_at, updated_at FROM items ORDER BY id');
  const sequence = await sql.query('SELECT last_value, is_called FROM items_id_seq');
  return { rows: rows.rows as unknown[], sequence: sequence.rows[0] as unknown };
}

beforeAll(async () => {
  for (const program of ['rclone', 'pg_dump', 'pg_restore', 'psql', 'pg_isready', 'initdb']) tool(program);
  tree = await prepareRenderTree();
  staging = await renderStagingWithObjectStore(tree);
  work = await userDir(await mkdtemp(path.join(os.tmpdir(), 'object-store-')));

  // PostgreSQL: the database the CronJobs name (postgres-config), migrated, with real rows: ids 1-3
  // hand-made (2 deleted), ITEMS more, and a rolled-back id: the sequence is ahead of max(id).
  databaseName = dataOf(findGenerated(staging, 'ConfigMap', 'postgres-config')).POSTGRES_DB as string;
  pgDir = await mkdtemp(path.join(os.tmpdir(), 'object-store-pg-'));
  database = await startEmbeddedPostgres({ dataDir: pgDir, ephemeral: true });
  await createDatabaseIfMissing(database.url(), databaseName);
  await applyMigrations(database.url(databaseName));
  sql = new pg.Pool({ connectionString: database.url(databaseName), max: 2 });
  sql.on('error', () => undefined);
  await sql.query(`INSERT INTO items (name, description) VALUES ('a', NULL), ('b', 'second'), ('c', 'ü ✓')`);
  await sql.query(`DELETE FROM items WHERE name = 'b'`);
  await sql.query(
    `INSERT INTO items (name, description) SELECT 'item ' || n, repeat('x', n) FROM generate_series(1, ${ITEMS}) n`,
  );
  await sql.query(`SELECT nextval('items_id_seq')`);
  const url = new URL(database.url());
  postgresSecret = await writeUserFiles(path.join(work, 'postgres-secret'), {
    POSTGRES_USER: decodeURIComponent(url.username),
    POSTGRES_PASSWORD: decodeURIComponent(url.password),
  });

  // The S3 server, with the bucket made beforehand (Garage's one-time `bucket create`).
  bucket = envOf(container('postgres-backup', 'upload')).BUCKET as string;
  const store = path.join(work, 'store');
  bucketDir = await userDir(path.join(store, bucket));
  const port = await freePort();
  const accessKey = `GK${randomBytes(12).toString('hex')}`;
  const secretKey = randomBytes(32).toString('hex');
  s3Log = path.join(work, 'rclone-serve-s3.log');
  await writeFile(path.join(work, 'server.conf'), '');
  s3 = spawnLogged(
    tool('rclone'),
    ['serve', 's3', '--addr', `127.0.0.1:${port}`, '--auth-key', `${accessKey},${secretKey}`, store],
    s3Log,
    toolsEnv({ RCLONE_CONFIG: path.join(work, 'server.conf') }),
  );
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor('rclone serve s3 to answer', () => fetch(endpoint).then((r) => r.status > 0), {
    timeoutMs: 30_000,
    abortIf: () => (s3?.exitCode !== null ? `it exited: ${tail(s3Log)}` : undefined),
  });
  note({
    kind: 'stand-in',
    what: `object store: rclone serve s3 (rclone ${versions().RCLONE_VERSION}'s S3 server, on loopback) stood in for Garage; the backup, upload, fetch, restore and drill containers ran their rendered commands on this machine (tests/k8s/local-pod.ts), not in pods`,
  });
  // The Secret backup-object-store as docs/backup-restore.md describes it, pointing at this server.
  const rcloneConf = [
    '[store]',
    'type = s3',
    'provider = Other',
    `endpoint = ${endpoint}`,
    'region = garage',
    `access_key_id = ${accessKey}`,
    `secret_access_key = ${secretKey}`,
    '',
  ].join('\n');
  objectStoreSecret = await writeUserFiles(path.join(work, 'object-store'), { 'rclone.conf': rcloneConf });
  rcloneConfig = path.join(work, 'test-rclone.conf');
  await writeFile(rcloneConfig, rcloneConf);
  claim = await userDir(path.join(work, 'claim'));
}, 180_000);

afterAll(async () => {
  if (Object.keys(timings).length > 0) {
    const seconds = Object.entries(timings)
      .map(([name, s]) => `${name} ${s.toFixed(2)} s`)
      .join(', ');
    note({
      kind: 'measured',
      what: `object store, ${ITEMS + 2} items, dump ${dumpBytes} bytes (containers run here): ${seconds}`,
    });
  }
  await stopProcess(s3);
  await sql?.end();
  await database?.stop();
  await Promise.all(pods.map((p) => p.cleanup()));
  await tree?.cleanup();
  for (const dir of [work, pgDir]) if (dir) await rm(dir, { recursive: true, force: true });
});

describe(`backups in the object store, run for real [stand-in: rclone serve s3 for Garage]`, () => {
  it('runs the rclone release the manifests pin', async () => {
    const release = versions().RCLONE_VERSION as string;
    for (const [cronJob, name] of [
      ['postgres-backup', 'upload'],
      ['postgres-restore', 'fetch'],
      ['postgres-restore-drill', 'fetch'],
    ] as const)
      expect([cronJob, container(cronJob, name).image]).toEqual([cronJob, `rclone/rclone:${release.slice(1)}`]);
    expect(await runOk(tool('rclone'), ['version'])).toMatch(new RegExp(`^rclone ${release.replaceAll('.', '\\.')}\n`));
  });

  it('uploads the new verified dump with its checksum and row counts to the bucket, byte for byte', async () => {
    const backup = pod('postgres-backup', { backups: claim });
    const results = await backup.runAll();
    time(results);
    expect({ outcome: outcome(results), log: explain(results) }).toEqual({
      outcome: [
        ['backup', 0],
        ['upload', 0],
      ],
      log: expect.any(String),
    });
    firstDump = results[0]?.stdout.trim() as string;
    expect(firstDump).toMatch(new RegExp(`^${databaseName}-\\d{8}T\\d{6}Z\\.dump$`));
    dumpBytes = (await stat(path.join(claim, firstDump))).size;
    expect(await readFile(path.join(claim, `${firstDump}.counts`), 'utf8')).toBe(
      `public._prisma_migrations\t1\npublic.items\t${ITEMS + 2}\n`,
    );

    expect(await filesIn(bucketDir)).toEqual(dumpFiles(firstDump));
    for (const file of dumpFiles(firstDump))
      expect([file, await sha256(path.join(bucketDir, file))]).toEqual([file, await sha256(path.join(claim, file))]);
    // What the S3 API reports, and what the upload's own listing (rclone lsl) printed.
    const listed = await listBucket();
    expect(listed.map((o) => [o.Name, o.Size])).toEqual(
      await Promise.all(dumpFiles(firstDump).map(async (f) => [f, (await stat(path.join(claim, f))).size])),
    );
    expect(results[1]?.stdout).toContain(firstDump);
  });

  it('never overwrites a dump in the bucket with different bytes: the upload fails instead', async () => {
    const file = path.join(claim, firstDump);
    const original = await readFile(file);
    const inBucket = await sha256(path.join(bucketDir, firstDump));
    await writeFile(file, Buffer.concat([original, Buffer.from('bit rot')]));
    try {
      const upload = await pod('postgres-backup', { backups: claim }).run('upload');
      expect(upload.code).not.toBe(0);
      expect(upload.stderr).toMatch(/immutable file modified/);
      expect(await sha256(path.join(bucketDir, firstDump))).toBe(inBucket);
    } finally {
      await writeFile(file, original);
    }
  });

  it('restores every row and the sequence from the bucket alone after the claim and the database are lost', async () => {
    const before = await itemsState();
    await rm(claim, { recursive: true });
    // PostgreSQL's volume is gone too: a new, empty database of the same name.
    await sql.end();
    await runOk(tool('psql'), [database.url(), '-c', `DROP DATABASE "${databaseName}" WITH (FORCE)`]);
    await createDatabaseIfMissing(database.url(), databaseName);
    sql = new pg.Pool({ connectionString: database.url(databaseName), max: 2 });
    sql.on('error', () => undefined);

    const restore = pod('postgres-restore', {});
    const results = await restore.runAll();
    time(results);
    expect({ outcome: outcome(results), log: explain(results) }).toEqual({
      outcome: [
        ['fetch', 0],
        ['restore', 0],
      ],
      log: expect.any(String),
    });
    const fetched = await restore.volumeDir('backups');
    expect(await filesIn(fetched)).toEqual(dumpFiles(firstDump));
    for (const file of dumpFiles(firstDump))
      expect([file, await sha256(path.join(fetched, file))]).toEqual([file, await sha256(path.join(bucketDir, file))]);
    expect(results[1]?.stderr).toMatch(new RegExp(`row counts match the dump: 2 tables, ${ITEMS + 3} rows`));

    expect(await itemsState()).toEqual(before);
    // New rows continue after the restored sequence (the rolled-back id included), not from 1.
    const next = await sql.query(`INSERT INTO items (name) VALUES ('after') RETURNING id`);
    expect((next.rows[0] as { id: number }).id).toBe(ITEMS + 5);
    await sql.query(`DELETE FROM items WHERE name = 'after'`);
  });

  it('passes the weekly drill from the bucket alone', async () => {
    const results = await pod('postgres-restore-drill', {}).runAll();
    time(results.filter((r) => r.name === 'drill'));
    expect({ outcome: outcome(results), log: explain(results) }).toEqual({
      outcome: [
        ['fetch', 0],
        ['drill', 0],
      ],
      log: expect.any(String),
    });
    expect(results[1]?.stderr).toMatch(/DRILL PASSED/);
  });

  it('removes dumps older than 8 days from the bucket, keeps newer ones, and keeps what the new claim lacks', async () => {
    // Earlier dumps in the bucket, 9 and 7 days old (copies of the real one), put there through
    // the S3 API with their modification times, as rclone copy uploads them.
    const earlier = path.join(work, 'earlier');
    await userDir(earlier);
    const stamp = (daysAgo: number) => {
      const t = new Date(Date.now() - daysAgo * DAY_MS).toISOString();
      return `${databaseName}-${t.slice(0, 10).replaceAll('-', '')}T023000Z.dump`;
    };
    const [nineDays, sevenDays] = [stamp(9), stamp(7)];
    for (const [name, daysAgo] of [
      [nineDays, 9],
      [sevenDays, 7],
    ] as const) {
      const when = new Date(Date.now() - daysAgo * DAY_MS);
      for (const suffix of ['', '.counts', '.sha256']) {
        const target = path.join(earlier, `${name}${suffix}`);
        await writeFile(target, await readFile(path.join(bucketDir, `${firstDump}${suffix}`)));
        await utimes(target, when, when);
      }
    }
    await runOk(tool('rclone'), ['copy', earlier, `store:${bucket}`], {
      env: toolsEnv({ RCLONE_CONFIG: rcloneConfig }),
    });
    // The server keeps the uploaded modification time as the object's LastModified.
    const lastModified = Object.fromEntries(
      (await listBucket('--use-server-modtime')).map((o) => [o.Name, Date.parse(o.ModTime)]),
    );
    expect(Math.round((Date.now() - (lastModified[nineDays] as number)) / DAY_MS)).toBe(9);
    expect(Math.round((Date.now() - (lastModified[sevenDays] as number)) / DAY_MS)).toBe(7);

    // The next daily backup, on the new claim (the old one was lost).
    claim = await userDir(path.join(work, 'claim-2'));
    const results = await pod('postgres-backup', { backups: claim }).runAll();
    expect({ outcome: outcome(results), log: explain(results) }).toEqual({
      outcome: [
        ['backup', 0],
        ['upload', 0],
      ],
      log: expect.any(String),
    });
    const newest = results[0]?.stdout.trim() as string;
    expect(newest).not.toBe(firstDump);
    expect(await filesIn(bucketDir)).toEqual(
      [...dumpFiles(sevenDays), ...dumpFiles(firstDump), ...dumpFiles(newest)].sort(),
    );
    expect((await listBucket()).map((o) => o.Name)).toEqual(await filesIn(bucketDir));
  });

  it('never uploads a dump that did not verify: the backup runs first, fails the pod, and leaves nothing to upload', async () => {
    const backupPod = spec('postgres-backup');
    expect({
      init: backupPod.initContainers?.map((c) => c.name),
      containers: backupPod.containers.map((c) => c.name),
      restartPolicy: backupPod.restartPolicy,
    }).toEqual({ init: ['backup'], containers: ['upload'], restartPolicy: 'Never' });

    // A database whose tables are gone: its dump lists no table data and must not count.
    await sql.query('DROP TABLE items, _prisma_migrations');
    const claimBefore = await filesIn(claim);
    const bucketBefore = await listBucket();
    const results = await pod('postgres-backup', { backups: claim }).runAll();
    expect(outcome(results)).toEqual([['backup', 1]]);
    expect(results[0]?.stderr).toMatch(/lists no table data/);
    expect(results[0]?.stderr).toMatch(/did not verify; it was removed/);
    expect(await filesIn(claim)).toEqual(claimBefore);
    expect(await listBucket()).toEqual(bucketBefore);

    // Even if the upload ran on the claim now, with a partial dump an interrupted run left there,
    // only verified dumps (renamed to *.dump after verify.sh passed) would match its includes.
    const partial = `.${databaseName}-20991231T000000Z.dump.partial`;
    await writeUserFiles(claim, { [partial]: 'an interrupted pg_dump' });
    const upload = await pod('postgres-backup', { backups: claim }).run('upload');
    expect({ code: upload.code, stderr: upload.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(await listBucket()).toEqual(bucketBefore);
    expect(await filesIn(bucketDir)).not.toContain(partial);
  });
});
