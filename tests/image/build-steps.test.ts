// No Docker engine runs here, so this suite replays the Dockerfile on this checkout: the build
// context as .dockerignore cuts it, the build stage's npm scripts, the prune commands of the
// prod-deps and migrate-deps stages exactly as written in the Dockerfile, and the COPY lines
// of the runtime and migrate targets. Then it starts the runtime target's ENTRYPOINT against
// a real PostgreSQL and stops it the way the kubelet does (SIGTERM).
// What cannot be replayed: the base image itself and the schema-engine download (`prisma
// version` needs the internet; the Dockerfile fails the build if it did not happen).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import pg from 'pg';
import { applyMigrations } from '../../apps/api/src/db/migrations.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../apps/api/src/dev/embedded-postgres.js';
import { freePorts } from '../../apps/api/src/dev/free-port.js';
import { REPO_ROOT, run, runOk } from '../support/tools.js';
import { waitFor } from '../support/wait.js';
import { contextFiles, covers } from './lib/context.js';
import {
  copyParts,
  envOf,
  execForm,
  flags,
  keyword,
  lastOf,
  parseDockerfile,
  runCommand,
  type ParsedDockerfile,
} from './lib/dockerfile.js';

jest.setTimeout(300_000);

const df: ParsedDockerfile = parseDockerfile();
const DEV_ONLY = ['typescript', 'jest', 'eslint', 'tsx', 'prettier', 'embedded-postgres', 'supertest', 'autocannon'];

let work: string;
/** Where each stage's /app ends up in this replay. */
const stageDirs: Record<string, string> = {};

const sh = (command: string, cwd: string, env: NodeJS.ProcessEnv = {}) =>
  runOk('sh', ['-c', command], { cwd, env: { ...process.env, ...env }, timeoutMs: 240_000 });

/** Hard links where possible: a node_modules "copy" then costs no disk; prune only unlinks. */
async function linkTree(from: string, to: string): Promise<void> {
  const linked = await run('cp', ['-al', from, to], { timeoutMs: 120_000 });
  if (linked.code !== 0) {
    await rm(to, { recursive: true, force: true });
    await runOk('cp', ['-a', from, to], { timeoutMs: 240_000 });
  }
}

/** Node looks for packages in every parent folder: none may hold a node_modules. */
function parentsWithNodeModules(dir: string): string[] {
  const found: string[] = [];
  for (let d = path.dirname(dir); d !== path.dirname(d); d = path.dirname(d)) {
    if (existsSync(path.join(d, 'node_modules'))) found.push(d);
  }
  return found;
}

/** Commands of a stage's RUN lines, the ones that need the internet or the engine left out. */
function runCommands(stage: string, skip: RegExp[] = []): string[] {
  return df
    .stage(stage)
    .instructions.filter((i) => keyword(i) === 'RUN')
    .map(runCommand)
    .map((c) =>
      c
        .split(' && ')
        .filter((part) => !skip.some((re) => re.test(part)))
        .join(' && '),
    );
}

/** Replays a target's COPY lines (stage /app paths or context files) into a fresh folder. */
async function assemble(target: string): Promise<string> {
  const dir = path.join(work, `image-${target}`);
  await mkdir(dir);
  for (const i of df.stage(target).instructions.filter((x) => keyword(x) === 'COPY')) {
    const { sources, destination } = copyParts(i);
    const from = flags(i).from;
    for (const source of sources) {
      const origin = from
        ? path.join(stageDirs[from]!, source.replace(/^\/app\/?/, ''))
        : path.join(stageDirs.context!, source);
      const target_ =
        destination.endsWith('/') && !from && !source.endsWith('/') && existsSync(origin)
          ? path.join(dir, destination, path.basename(source))
          : path.join(dir, destination);
      await mkdir(path.dirname(target_), { recursive: true });
      await linkTree(origin, target_);
    }
  }
  return dir;
}

const NOT_INSTALLED_ENGINE = 'prisma-schema-engine-NOT-INSTALLED (replay)';

beforeAll(async () => {
  // Outside the checkout: the replayed images must not resolve packages from its node_modules.
  work = await mkdtemp(path.join(os.tmpdir(), 'image-build-'));
  expect(parentsWithNodeModules(path.join(work, 'image'))).toEqual([]);

  // The build context, as `docker build .` would send it.
  const context = path.join(work, 'context');
  for (const file of contextFiles()) {
    await mkdir(path.dirname(path.join(context, file)), { recursive: true });
    await cp(path.join(REPO_ROOT, file), path.join(context, file));
  }
  stageDirs.context = context;

  // deps: `npm ci` from the same lockfile is what this checkout's node_modules already is.
  const deps = path.join(work, 'deps');
  await mkdir(deps);
  for (const file of ['package.json', 'package-lock.json']) await cp(path.join(context, file), path.join(deps, file));
  await linkTree(path.join(REPO_ROOT, 'node_modules'), path.join(deps, 'node_modules'));
  stageDirs.deps = deps;

  // Every later stage in file order: a copy of the stage it builds on, its COPY lines from
  // the context, its RUN lines (without the engine fetch and check, which need the internet).
  const offline = [/prisma\/build\/index\.js version/, /schema-engine-\*/];
  for (const stage of ['engines', 'build', 'prod-deps', 'migrate-deps']) {
    const dir = path.join(work, stage);
    await linkTree(stageDirs[df.stage(stage).base]!, dir);
    for (const i of df.stage(stage).instructions.filter((x) => keyword(x) === 'COPY' && !flags(x).from)) {
      for (const source of copyParts(i).sources) {
        for (const file of contextFiles().filter((f) => covers(source, f))) {
          await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
          await cp(path.join(context, file), path.join(dir, file));
        }
      }
    }
    for (const command of runCommands(stage, offline)) if (command) await sh(command, dir);
    stageDirs[stage] = dir;
  }
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('prod-deps stage', () => {
  it('keeps every production dependency and drops the dev tools and the Prisma CLI', async () => {
    const modules = path.join(stageDirs['prod-deps']!, 'node_modules');
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies))
      expect({ dep, present: existsSync(path.join(modules, dep)) }).toEqual({ dep, present: true });
    for (const dep of [...DEV_ONLY, 'prisma', '@prisma/engines']) {
      expect({ dep, present: existsSync(path.join(modules, dep)) }).toEqual({ dep, present: false });
    }
  });
});

describe('runtime target', () => {
  let database: EmbeddedDatabase;
  let dataDir: string;
  let url: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'image-runtime-pg-'));
    database = await startEmbeddedPostgres({ dataDir, ephemeral: true });
    url = database.url('postgres');
    await applyMigrations(url);
  });

  afterAll(async () => {
    await database?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves the API from its production files alone and exits 0 on SIGTERM', async () => {
    const image = await assemble('runtime');
    const entrypoint = execForm(lastOf(df, 'runtime', 'ENTRYPOINT')!)!;
    expect(entrypoint[0]).toBe('node');
    const empty = path.join(work, 'empty');
    await mkdir(empty, { recursive: true });
    const [port, metricsPort] = (await freePorts(2)) as [number, number];

    const sql = new pg.Client({ connectionString: url });
    await sql.connect();
    await sql.query(`INSERT INTO items (name, description) VALUES ('from the image replay', 'seeded by SQL')`);
    await sql.end();

    const child: ChildProcess = spawn(process.execPath, entrypoint.slice(1), {
      cwd: image,
      env: {
        PATH: process.env.PATH,
        ...envOf(df, 'runtime'),
        DATABASE_URL: url,
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        SECRETS_DIR: empty,
        CONFIG_DIR: empty,
        SHUTDOWN_DELAY_MS: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    try {
      const base = `http://127.0.0.1:${port}`;
      let ready: Response | undefined;
      await waitFor('the replayed server to be ready', async () => (ready = await fetch(`${base}/health/ready`)).ok, {
        timeoutMs: 20_000,
        intervalMs: 200,
        abortIf: () => (child.exitCode === null ? undefined : 'it exited'),
      }).catch(() => undefined);
      expect({ ready: ready?.status, output }).toEqual({ ready: 200, output: expect.any(String) });

      const list = await fetch(`${base}/api/items`);
      expect(list.status).toBe(200);
      expect(JSON.stringify(await list.json())).toContain('from the image replay');

      const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('http_request_duration_seconds');
    } finally {
      child.kill('SIGTERM');
    }
    expect({ code: await exited, output }).toEqual({ code: 0, output: expect.any(String) });
  });
});

describe('migrate target', () => {
  it('runs the Prisma CLI with prisma.config.ts, the schema and the migrations from its own files', async () => {
    const image = await assemble('migrate');
    const modules = path.join(image, 'node_modules');
    expect(existsSync(path.join(modules, 'prisma', 'build', 'index.js'))).toBe(true);
    for (const dep of DEV_ONLY)
      expect({ dep, present: existsSync(path.join(modules, dep)) }).toEqual({ dep, present: false });
    expect(existsSync(path.join(image, 'apps/api/prisma/migrations'))).toBe(true);

    // `validate` loads prisma.config.ts and the schema like `migrate deploy` does, without
    // running the schema engine (which only a networked build downloads).
    const placeholder = path.join(work, NOT_INSTALLED_ENGINE);
    await writeFile(placeholder, 'not an engine\n');
    const entrypoint = execForm(lastOf(df, 'migrate', 'ENTRYPOINT')!)!;
    const result = await run(process.execPath, [...entrypoint.slice(1), 'validate'], {
      cwd: image,
      env: { PATH: process.env.PATH, HOME: work, ...envOf(df, 'migrate'), PRISMA_SCHEMA_ENGINE_BINARY: placeholder },
      timeoutMs: 120_000,
    });
    expect({ code: result.code, output: result.stdout + result.stderr }).toEqual({
      code: 0,
      output: expect.stringMatching(/schema .*is valid/i),
    });
  });
});
