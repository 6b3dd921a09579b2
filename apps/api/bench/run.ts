/**
 * `npm run bench`: the API (compiled, production settings) against the plain Express 5 + `pg`
 * baseline in bench/baseline-server.ts, in the same run, on the same embedded PostgreSQL and data
 * (10,000 rows, reseeded before every round), alternating which server goes first, for
 * BENCH_ROUNDS rounds. Load: `wrk` (a C load generator, so it does not eat the measured core
 * the way a Node one would) with bench/wrk/items.lua, 50 connections. Each server is one process
 * started fresh per round; with two or more cores the server is pinned to core 0 and wrk to core
 * 1 (`taskset`); PostgreSQL and this script are not pinned and share both.
 *
 * Prints each figure per server (median and min–max over the rounds) and the API's ratio to
 * the baseline (median of the per-round ratios, and their min–max), plus the load average,
 * because other work on the machine moves absolute numbers far more than same-run ratios.
 *
 *   BENCH_ROUNDS (3)  BENCH_DURATION_S (10)  BENCH_WARMUP_S (3)  BENCH_CONNECTIONS (50)
 *   BENCH_CPU_PROF=<dir>  the API writes a V8 CPU profile there when it stops (bench/profile-summary.ts)
 *   BENCH_ONLY=api|baseline  run one server only (profiling)
 *   DATABASE_URL      use that PostgreSQL instead of an embedded one (the bench creates and
 *                     drops its own tables there: never point it at real data)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { applyMigrations } from '../src/db/migrations.js';
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres.js';
import { createDatabaseIfMissing } from '../src/dev/local-database.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROWS = 10_000;
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROF;
const ONLY = process.env.BENCH_ONLY;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WRK_SCRIPT = path.join(HERE, 'wrk', 'items.lua');
const SERVERS = {
  baseline: path.resolve('dist/bench/baseline-server.js'),
  api: path.resolve('dist/apps/api/src/server.js'),
} as const;
type ServerName = keyof typeof SERVERS;

const SCENARIOS = {
  get: 'GET /api/items/:id',
  list: 'GET /api/items?limit=50',
  mixed: 'mixed 80% get / 10% POST / 10% PUT',
} as const;
type Scenario = keyof typeof SCENARIOS;

const CLOCK_TICKS = 100; // USER_HZ on Linux
const PINNED = os.cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
/** The command prefix that pins a process to one core, when the machine allows it. */
const pin = (core: number) => (PINNED ? ['taskset', '-c', String(core)] : []);

const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RunningServer {
  child: ChildProcess;
  port: number;
  cpuSeconds(): number;
  peakRssMiB(): number;
  stop(): Promise<void>;
}

/** Starts one server process; its stdout (the request log) goes to a file, as a container runtime would take it. */
async function startServer(name: ServerName, databaseUrl: string, logDir: string): Promise<RunningServer> {
  const profiling =
    CPU_PROFILE_DIR && name === 'api' ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(CPU_PROFILE_DIR)}`] : [];
  const logFile = path.join(logDir, `${name}-${Date.now()}.log`);
  const out = openSync(logFile, 'w');
  const [command, ...args] = [...pin(0), process.execPath, ...profiling, SERVERS[name]];
  const child = spawn(command!, args, {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      PORT: '0',
      METRICS_PORT: '0',
      SHUTDOWN_DELAY_MS: '0',
      // The limiter stays in the request path (its cost is measured), but must not answer 429.
      RATE_LIMIT_MAX: '1000000',
      // As deployed (gitops/base/config/app-config.env): one proxy hop, the client address from
      // the X-Forwarded-For header wrk sends like the ingress does.
      TRUST_PROXY: '1',
      SECRETS_DIR: '/nonexistent',
      CONFIG_DIR: '/nonexistent',
    },
    stdio: ['ignore', out, 'inherit'],
  });
  closeSync(out);
  let exited = false;
  child.once('exit', () => (exited = true));
  let port: number | undefined;
  for (let waited = 0; port === undefined; waited += 50) {
    if (exited || waited > 30_000) throw new Error(`${name} server did not start (log: ${logFile})`);
    await sleep(50);
    const line = readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('"msg":"listening"'));
    if (line) port = (JSON.parse(line) as { port: number }).port;
  }
  const proc = (file: string) => readFileSync(`/proc/${child.pid}/${file}`, 'utf8');
  return {
    child,
    port,
    cpuSeconds() {
      const fields = proc('stat').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    },
    peakRssMiB() {
      return Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(proc('status'))?.[1]) / 1024);
    },
    stop: () =>
      new Promise((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface WrkResult {
  requests: number;
  durationUs: number;
  errors: number;
  non2xx: number;
  p50Us: number;
  p99Us: number;
}

function wrk(port: number, scenario: Scenario, seconds: number): Promise<WrkResult> {
  const [command, ...args] = [
    ...pin(1),
    'wrk',
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    // wrk's default of 2 s would drop the slowest answers from the latency figures (as timeouts).
    '--timeout',
    '10s',
    '-s',
    WRK_SCRIPT,
    `http://127.0.0.1:${port}`,
    '--',
    scenario,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { env: { ...process.env, BENCH_ROWS: String(ROWS) } });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.pipe(process.stderr);
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{"requests"'));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (${code}): ${stdout}`));
      resolve(JSON.parse(line) as WrkResult);
    });
  });
}

interface Measurement {
  rps: number;
  p50: number;
  p99: number;
  cpuMsPerRequest: number;
  errors: number;
}

async function measure(server: RunningServer, scenario: Scenario): Promise<Measurement> {
  await wrk(server.port, scenario, WARMUP_S); // JIT, pool connections, PostgreSQL caches
  const cpuBefore = server.cpuSeconds();
  const r = await wrk(server.port, scenario, DURATION_S);
  const cpu = server.cpuSeconds() - cpuBefore;
  return {
    rps: r.requests / (r.durationUs / 1e6),
    p50: r.p50Us / 1000,
    p99: r.p99Us / 1000,
    cpuMsPerRequest: (cpu * 1000) / r.requests,
    errors: r.errors + r.non2xx,
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const summary = (xs: number[]) =>
  xs.length ? `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : '–';

async function withDatabase(run: (url: string) => Promise<void>): Promise<void> {
  if (process.env.DATABASE_URL) return run(process.env.DATABASE_URL);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'api-bench-pg-'));
  const postgres = await startEmbeddedPostgres({ dataDir });
  try {
    await createDatabaseIfMissing(postgres.url(), 'bench');
    await run(postgres.url('bench'));
  } finally {
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'api-bench-logs-'));
  const servers: ServerName[] = ONLY === 'api' || ONLY === 'baseline' ? [ONLY] : ['baseline', 'api'];
  const results = new Map<string, Measurement[]>(); // `${server} ${scenario}`
  const peakRss = new Map<ServerName, number[]>(servers.map((s) => [s, []]));
  const loads: string[] = [];
  console.log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ` +
      `Node ${process.version}; wrk -t1 -c${CONNECTIONS}, ${WARMUP_S} s warm-up + ${DURATION_S} s per scenario, ` +
      `${ROUNDS} rounds, ${ROWS} rows; ` +
      (PINNED
        ? 'server pinned to core 0, wrk to core 1, PostgreSQL unpinned (shares both cores)'
        : 'not pinned (taskset missing or one core)'),
  );
  try {
    await withDatabase(async (databaseUrl) => {
      await applyMigrations(databaseUrl);
      for (let round = 1; round <= ROUNDS; round++) {
        await seed(databaseUrl, ROWS);
        loads.push(loadAverage());
        const order = round % 2 ? servers : [...servers].reverse();
        for (const name of order) {
          const server = await startServer(name, databaseUrl, logDir);
          try {
            for (const scenario of Object.keys(SCENARIOS) as Scenario[]) {
              const m = await measure(server, scenario);
              const key = `${name} ${scenario}`;
              results.set(key, [...(results.get(key) ?? []), m]);
              console.log(
                `round ${round} ${name.padEnd(8)} ${SCENARIOS[scenario].padEnd(36)} ${fmt(m.rps)} req/s, ` +
                  `p99 ${fmt(m.p99)} ms, ${m.cpuMsPerRequest.toFixed(3)} ms CPU/req, ${m.errors} errors`,
              );
            }
            peakRss.get(name)!.push(server.peakRssMiB());
          } finally {
            await server.stop();
          }
        }
      }
    });
  } finally {
    await rm(logDir, { recursive: true, force: true });
  }
  loads.push(loadAverage());

  const both = servers.length === 2;
  const ratio = (scenario: Scenario, pick: (m: Measurement) => number) => {
    const api = results.get(`api ${scenario}`)!;
    const base = results.get(`baseline ${scenario}`)!;
    return api.map((m, i) => pick(m) / pick(base[i]!));
  };
  console.log(`\nload average (1/5/15 min) at the start of each round and at the end: ${loads.join(' | ')}`);
  console.log('median (min–max) over the rounds; ratio = API / baseline, per round, then median (min–max)\n');
  console.log('| scenario | figure | baseline | API | ratio |');
  console.log('|---|---|---:|---:|---:|');
  const row = (scenario: Scenario, figure: string, pick: (m: Measurement) => number) => {
    const cell = (s: ServerName) => summary((results.get(`${s} ${scenario}`) ?? []).map(pick));
    console.log(
      `| ${SCENARIOS[scenario]} | ${figure} | ${cell('baseline')} | ${cell('api')} | ${both ? summary(ratio(scenario, pick)) : '–'} |`,
    );
  };
  for (const scenario of Object.keys(SCENARIOS) as Scenario[]) {
    row(scenario, 'req/s', (m) => m.rps);
    row(scenario, 'p99 ms', (m) => m.p99);
    row(scenario, 'server CPU ms/request', (m) => m.cpuMsPerRequest);
  }
  const rss = (s: ServerName) => peakRss.get(s) ?? [];
  const rssRatio = both ? rss('api').map((r, i) => r / rss('baseline')[i]!) : [];
  console.log(
    `| all three, one process per round | peak RSS MiB | ${summary(rss('baseline'))} | ${summary(rss('api'))} | ${summary(rssRatio)} |`,
  );
  if (rss('api').length && !checkMemorySizing(Math.max(...rss('api')))) process.exitCode = 1;
  const errors = [...results.values()].flat().reduce((n, m) => n + m.errors, 0);
  console.log(`\nerrors (socket errors, timeouts, non-2xx/3xx): ${errors}`);
  if (errors > 0) process.exitCode = 1;
}

await main();
