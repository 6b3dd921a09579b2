import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { startLocalDatabaseIfNeeded } from '../src/dev/local-database.js';
import { REPO_ROOT } from './support/paths.js';

let secretsDir: string;
let configDir: string;

beforeEach(() => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'api-config-'));
  secretsDir = path.join(root, 'secrets');
  configDir = path.join(root, 'config');
  for (const dir of [secretsDir, configDir]) spawnSync('mkdir', ['-p', dir]);
});
afterEach(() => rmSync(path.dirname(secretsDir), { recursive: true, force: true }));

const load = (env: Record<string, string>) => loadConfig({ env, secretsDir, configDir });
const URL_A = 'postgresql://a:a@db-a:5432/items';

describe('configuration precedence: Secret file > environment > ConfigMap file > default', () => {
  it('uses the defaults when nothing is set', () => {
    expect(load({})).toMatchObject({
      PORT: 5000,
      METRICS_PORT: 9464,
      LOG_LEVEL: 'info',
      TRUST_PROXY: 0,
      SHUTDOWN_DELAY_MS: 5000,
      SHUTDOWN_TIMEOUT_MS: 20000,
      KEEP_ALIVE_TIMEOUT_MS: 65000,
      HEADERS_TIMEOUT_MS: 66000,
      BODY_LIMIT: '100kb',
    });
  });

  it('a ConfigMap file beats the default', () => {
    writeFileSync(path.join(configDir, 'LOG_LEVEL'), 'debug\n');
    expect(load({}).LOG_LEVEL).toBe('debug');
  });

  it('the environment beats a ConfigMap file', () => {
    writeFileSync(path.join(configDir, 'LOG_LEVEL'), 'debug\n');
    expect(load({ LOG_LEVEL: 'warn' }).LOG_LEVEL).toBe('warn');
  });

  it('a Secret file beats the environment and the ConfigMap', () => {
    writeFileSync(path.join(secretsDir, 'DATABASE_URL'), `${URL_A}\n`);
    writeFileSync(path.join(configDir, 'DATABASE_URL'), 'postgresql://c:c@db-c:5432/items');
    const config = load({ DATABASE_URL: 'postgresql://e:e@db-e:5432/items' });
    expect(config.DATABASE_URL).toBe(URL_A);
  });

  it('reads the directories from SECRETS_DIR and CONFIG_DIR', () => {
    writeFileSync(path.join(secretsDir, 'PORT'), '7000');
    writeFileSync(path.join(configDir, 'METRICS_PORT'), '7001');
    const config = loadConfig({ env: { SECRETS_DIR: secretsDir, CONFIG_DIR: configDir } });
    expect(config).toMatchObject({ PORT: 7000, METRICS_PORT: 7001 });
  });
});

describe('configuration validation', () => {
  it.each([
    [{ PORT: 'http' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DB_POOL_MAX: '0' }, 'DB_POOL_MAX'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ BODY_LIMIT: 'lots' }, 'BODY_LIMIT'],
    [{ KEEP_ALIVE_TIMEOUT_MS: '70000', HEADERS_TIMEOUT_MS: '66000' }, 'HEADERS_TIMEOUT_MS'],
    [{ NODE_ENV: 'production' }, 'DATABASE_URL'],
  ])('rejects %p with an error naming %s', (env, key) => {
    expect(() => load(env)).toThrow(ConfigError);
    expect(() => load(env)).toThrow(new RegExp(`^Invalid configuration: ${key}: `));
  });

  it('names the file an invalid value came from', () => {
    writeFileSync(path.join(configDir, 'RATE_LIMIT_MAX'), 'many');
    expect(() => load({})).toThrow(`(from config file ${path.join(configDir, 'RATE_LIMIT_MAX')})`);
  });
});

describe('the server process with a bad configuration', () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'apps/api/src/server.ts'], {
      env: { PATH: process.env.PATH, SECRETS_DIR: secretsDir, CONFIG_DIR: configDir, PORT: '0', ...env },
      encoding: 'utf8',
      timeout: 30_000,
      cwd: REPO_ROOT,
    });

  it('exits 1 with one line naming the key before opening a port', () => {
    const result = run({ DATABASE_URL: URL_A, DB_POOL_MAX: 'ten' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Invalid configuration: DB_POOL_MAX: /)]);
    expect(result.stdout).not.toContain('listening');
  });

  it('refuses to start in production without DATABASE_URL (no silent embedded database)', () => {
    const result = run({ NODE_ENV: 'production' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^Invalid configuration: DATABASE_URL: required when NODE_ENV=production/);
  });

  it('the local entry point (npm start) refuses too when NODE_ENV=production and DATABASE_URL is missing', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'apps/api/src/dev/start-local.ts'], {
      env: { PATH: process.env.PATH, SECRETS_DIR: secretsDir, CONFIG_DIR: configDir, NODE_ENV: 'production' },
      encoding: 'utf8',
      timeout: 30_000,
      cwd: REPO_ROOT,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/DATABASE_URL: required when NODE_ENV=production/);
    expect(result.stdout).not.toContain('embedded PostgreSQL');
  });
});

describe('the local entry points (npm start, npm run dev) and the database they use', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('start no embedded PostgreSQL when a Secret file provides DATABASE_URL (a dev pod with app-secret)', async () => {
    delete process.env.DATABASE_URL;
    process.env.NODE_ENV = 'development';
    process.env.SECRETS_DIR = secretsDir;
    process.env.CONFIG_DIR = configDir;
    writeFileSync(path.join(secretsDir, 'DATABASE_URL'), `${URL_A}\n`);

    await expect(startLocalDatabaseIfNeeded()).resolves.toBeUndefined();
    expect(process.env.DATABASE_URL).toBeUndefined();
  });
});
