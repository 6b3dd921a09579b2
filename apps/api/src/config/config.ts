import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Every setting the API reads. The same names are environment variables, ConfigMap keys
 * and Secret keys, so one file per key can be mounted from either.
 */
export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgresql:// connection URL')
      .optional(),
    // 0 = any free port (tests).
    PORT: integer(0, 65535).default(5000),
    METRICS_PORT: integer(0, 65535).default(9464),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DB_POOL_MAX: integer(1, 200).default(10),
    // Bounded waits keep a dead database from hanging requests: they fail with 503 instead.
    DB_CONNECTION_TIMEOUT_MS: integer(100, 60_000).default(2_000),
    DB_IDLE_TIMEOUT_MS: integer(1_000, 3_600_000).default(30_000),
    DB_STATEMENT_TIMEOUT_MS: integer(100, 600_000).default(5_000),
    RATE_LIMIT_WINDOW_MS: integer(1_000, 86_400_000).default(60_000),
    RATE_LIMIT_MAX: integer(1, 1_000_000).default(600),
    // A hop count, never `true`: trusting every proxy would let clients spoof X-Forwarded-For
    // and dodge the rate limit.
    TRUST_PROXY: integer(0, 10).default(0),
    SHUTDOWN_DELAY_MS: integer(0, 120_000).default(5_000),
    SHUTDOWN_TIMEOUT_MS: integer(1_000, 600_000).default(20_000),
    // Above the ingress' upstream keep-alive (nginx: 60 s) so the proxy never reuses a socket
    // the app has just closed.
    KEEP_ALIVE_TIMEOUT_MS: integer(1_000, 600_000).default(65_000),
    HEADERS_TIMEOUT_MS: integer(1_000, 600_000).default(66_000),
    BODY_LIMIT: z
      .string()
      .regex(/^\d+(b|kb|mb)$/i, 'must be a size such as "100kb"')
      .default('100kb'),
  })
  .superRefine((config, ctx) => {
    if (config.HEADERS_TIMEOUT_MS <= config.KEEP_ALIVE_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['HEADERS_TIMEOUT_MS'],
        message: 'must be greater than KEEP_ALIVE_TIMEOUT_MS',
      });
    }
    if (config.NODE_ENV === 'production' && config.DATABASE_URL === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_URL'],
        message: 'required when NODE_ENV=production (the embedded database is for development only)',
      });
    }
  });

export type Config = z.infer<typeof configSchema>;
/** Configuration once a database URL is known (the server cannot run without one). */
export type ServerConfig = Config & { DATABASE_URL: string };
export type ConfigKey = keyof z.input<typeof configSchema>;

export const CONFIG_KEYS = Object.keys(configSchema.shape) as ConfigKey[];

export const DEFAULT_SECRETS_DIR = '/etc/python-api/secrets';
export const DEFAULT_CONFIG_DIR = '/etc/python-api/config';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ConfigSources {
  env?: NodeJS.ProcessEnv;
  /** Files mounted from a Secret, one per key. Highest precedence. */
  secretsDir?: string;
  /** Files mounted from a ConfigMap, one per key. Below the environment. */
  configDir?: string;
}

function readKeyFile(dir: string, key: string): string | undefined {
  const file = path.join(dir, key);
  if (!existsSync(file)) return undefined;
  // Mounted files usually end with a newline that is not part of the value.
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

/**
 * Resolves every key with the precedence Secret file > environment > ConfigMap file > default,
 * then validates the result. Throws a ConfigError whose message names the offending key.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const secretsDir = sources.secretsDir ?? env.SECRETS_DIR ?? DEFAULT_SECRETS_DIR;
  const configDir = sources.configDir ?? env.CONFIG_DIR ?? DEFAULT_CONFIG_DIR;

  const raw: Record<string, string> = {};
  const origin: Record<string, string> = {};
  for (const key of CONFIG_KEYS) {
    const candidates: [string, string | undefined][] = [
      [`secret file ${path.join(secretsDir, key)}`, readKeyFile(secretsDir, key)],
      ['environment', env[key] === '' ? undefined : env[key]],
      [`config file ${path.join(configDir, key)}`, readKeyFile(configDir, key)],
    ];
    const found = candidates.find(([, value]) => value !== undefined);
    if (found) {
      origin[key] = found[0];
      raw[key] = found[1] as string;
    }
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue?.path[0] ?? 'configuration');
    const from = origin[key] ? ` (from ${origin[key]})` : '';
    throw new ConfigError(`Invalid configuration: ${key}: ${issue?.message ?? 'invalid'}${from}`);
  }
  return result.data;
}

export function requireDatabaseUrl(config: Config): ServerConfig {
  if (config.DATABASE_URL === undefined) {
    throw new ConfigError('Invalid configuration: DATABASE_URL: required');
  }
  return config as ServerConfig;
}

/**
 * Defaults plus exactly these settings, with a database URL: nothing from the process environment
 * or mounted files, so a test or tool that starts the API in-process is not steered by the machine.
 */
export function configFromSettings(settings: Record<string, string>): ServerConfig {
  const nowhere = '/nonexistent';
  return requireDatabaseUrl(loadConfig({ env: settings, secretsDir: nowhere, configDir: nowhere }));
}

/**
 * For entry points (the server, db:migrate, db:seed): the configuration with a database URL, or
 * one line naming the offending key on stderr and exit 1, before anything else happens.
 */
export function loadServerConfigOrExit(): ServerConfig {
  try {
    return requireDatabaseUrl(loadConfig());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
