/**
 * `npm run bench`: load-tests the compiled server (dist/) on an embedded PostgreSQL with
 * autocannon and prints requests/s, p50/p99 latency, server CPU and peak RSS per scenario,
 * then compares a list page on 1,000 vs 1,000,000 rows (keyset pagination must stay flat).
 *
 * Everything runs on this machine: the load generator shares the CPUs with the server and
 * PostgreSQL, so read the figures as relative, not as a capacity plan.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon, { type Request as CannonRequest, type Result } from 'autocannon';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { applyMigrations } from '../src/db/migrations.js';
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres.js';
import { createDatabaseIfMissing } from '../src/dev/local-database.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SERVER_ENTRY = path.resolve('dist/apps/api/src/server.js');
/** BENCH_CPU_PROF=<dir>: each server writes a V8 CPU profile there when it stops (see bench/profile-summary.ts). */
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROF;

interface ServerUnderTest {
  child: ChildProcess;
  port: number;
  /** CPU seconds (user + system) the server process has used so far. */
  cpuSeconds(): number;
  /** Peak resident set size of the server process, in MiB. */
  peakRssMiB(): number;
  stop(): Promise<void>;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

async function startServer(databaseUrl: string, extraEnv: Record<string, string> = {}): Promise<ServerUnderTest> {
  const profiling = CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(CPU_PROFILE_DIR)}`] : [];
  const child = spawn(process.execPath, [...profiling, SERVER_ENTRY], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      PORT: '0',
      METRICS_PORT: '0',
      SHUTDOWN_DELAY_MS: '0',
      // The limiter stays in the request path (its cost is measured), but must not answer 429.
      RATE_LIMIT_MAX: '1000000',
      SECRETS_DIR: '/nonexistent',
      CONFIG_DIR: '/nonexistent',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    // Keep draining stdout (the request logs) so the server never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"msg":"listening"')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const proc = (file: string) => readFileSync(`/proc/${child.pid}/${file}`, 'utf8');
  return {
    child,
    port,
    cpuSeconds() {
      const fields = proc('stat').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    },
    peakRssMiB() {
      const kb = /VmHWM:\s+(\d+) kB/.exec(proc('status'))?.[1];
      return Math.round(Number(kb) / 1024);
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const randomId = (max: number) => 1 + Math.floor(Math.random() * max);

function scenario(kind: 'get' | 'list' | 'create' | 'mixed', rows: number): CannonRequest[] {
  const json = { 'content-type': 'application/json' };
  const get: CannonRequest = { method: 'GET', setupRequest: (r) => ({ ...r, path: `/api/items/${randomId(rows)}` }) };
  const list: CannonRequest = {
    method: 'GET',
    setupRequest: (r) => ({ ...r, path: `/api/items?limit=50&after=${randomId(rows - 50)}` }),
  };
  const create: CannonRequest = {
    method: 'POST',
    headers: json,
    setupRequest: (r) => ({ ...r, path: '/api/items', body: JSON.stringify({ name: `bench ${Date.now()}` }) }),
  };
  const update: CannonRequest = {
    method: 'PUT',
    headers: json,
    setupRequest: (r) => ({
      ...r,
      path: `/api/items/${randomId(rows)}`,
      body: JSON.stringify({ name: 'updated by bench', description: 'mixed load' }),
    }),
  };
  if (kind === 'get') return [get];
  if (kind === 'list') return [list];
  if (kind === 'create') return [create];
  // autocannon cycles through the list: 8 reads, 1 create, 1 update = 80/10/10.
  return [get, get, get, get, get, get, get, get, create, update];
}

async function load(port: number, requests: CannonRequest[], duration = DURATION_S): Promise<Result> {
  return autocannon({ url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, duration, requests });
}

interface Row {
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  cpu: number;
  cpuPerRequestMs: number;
}

async function measure(server: ServerUnderTest, name: string, requests: CannonRequest[]): Promise<Row> {
  await load(server.port, requests, 2); // warm-up: JIT, pool connections, PostgreSQL caches
  const cpuBefore = server.cpuSeconds();
  const result = await load(server.port, requests);
  const cpu = (server.cpuSeconds() - cpuBefore) / DURATION_S;
  const errors = result.errors + result.timeouts + result.non2xx;
  return {
    scenario: name,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors,
    cpu: Math.round(cpu * 100) / 100,
    cpuPerRequestMs: Math.round(((cpu * DURATION_S) / result.requests.total) * 1000 * 1000) / 1000,
  };
}

async function seed(url: string, rows: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('TRUNCATE items RESTART IDENTITY');
    await client.query(
      `INSERT INTO items (name, description)
       SELECT 'item ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'description of item ' || g END
       FROM generate_series(1, $1::int) AS g`,
      [rows],
    );
    await client.query('VACUUM ANALYZE items');
  } finally {
    await client.end();
  }
}

/**
 * The measured peak against the API pod's memory sizing in gitops/base (request, limit, HPA
 * target): the request must keep the saturated peak below the HPA's memory target, or a busy
 * pod would look like a growing one and pin the HPA at its maximum. Returns false when it does not.
 */
function checkMemorySizing(peakMiB: number): boolean {
  const read = (file: string) => parseYaml(readFileSync(path.resolve('gitops/base/api', file), 'utf8'));
  const container = read('deployment.yaml').spec.template.spec.containers[0];
  const mebibytes = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? Number.NaN);
  const request = mebibytes(container.resources.requests.memory);
  const limit = mebibytes(container.resources.limits.memory);
  const target = read('hpa.yaml').spec.metrics.find((m: { resource: { name: string } }) => m.resource.name === 'memory')
    .resource.target.averageUtilization;
  const share = Math.round((peakMiB / request) * 100);
  const ok = share < target && limit >= 2 * peakMiB;
  console.log(
    `memory sizing (gitops/base): peak ${peakMiB} MiB = ${share} % of the ${request}Mi request (HPA target ${target} %), ` +
      `limit ${limit}Mi = ${(limit / peakMiB).toFixed(1)}x the peak: ${ok ? 'ok' : 'RESIZE: request or limit too small'}`,
  );
  return ok;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'api-bench-pg-'));
  const postgres = await startEmbeddedPostgres({ dataDir });
  try {
    const prepare = async (name: string, rows: number) => {
      await createDatabaseIfMissing(postgres.url(), name);
      await applyMigrations(postgres.url(name));
      await seed(postgres.url(name), rows);
      return postgres.url(name);
    };

    console.log(
      `machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ` +
        `Node ${process.version}, ${CONNECTIONS} connections, ${DURATION_S} s per scenario, ` +
        `load average before start ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' / ')}`,
    );

    const main = await startServer(await prepare('bench_100k', 100_000));
    const rows: Row[] = [];
    try {
      rows.push(await measure(main, 'GET /api/items/:id', scenario('get', 100_000)));
      rows.push(await measure(main, 'GET /api/items?limit=50', scenario('list', 100_000)));
      rows.push(await measure(main, 'POST /api/items', scenario('create', 100_000)));
      rows.push(await measure(main, 'mixed 80% get / 10% create / 10% update', scenario('mixed', 100_000)));
    } finally {
      console.log(`\n100,000 items; server peak RSS ${main.peakRssMiB()} MiB`);
      if (!checkMemorySizing(main.peakRssMiB())) process.exitCode = 1;
      console.log('');
      await main.stop();
    }
    console.log('| scenario | req/s | p50 ms | p99 ms | server CPU (cores) | server CPU ms/request | errors |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.scenario} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.cpu} | ${r.cpuPerRequestMs} | ${r.errors} |`);
    }

    console.log('\nlist page (limit=50) p50 by table size:');
    for (const size of [1_000, 1_000_000]) {
      const server = await startServer(await prepare(`bench_${size}`, size));
      try {
        const r = await measure(server, `${size} rows`, scenario('list', size));
        console.log(
          `| ${size.toLocaleString('en')} rows | p50 ${r.p50} ms | p99 ${r.p99} ms | ${r.rps} req/s | peak RSS ${server.peakRssMiB()} MiB |`,
        );
      } finally {
        await server.stop();
      }
    }
  } finally {
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
