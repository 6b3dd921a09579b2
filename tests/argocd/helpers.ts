// Rendering and lookups shared by the Argo CD and monitoring suites.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'yaml';
import { parseObjects, type KubeObject } from '../support/kube-apiserver.js';
import { REPO_ROOT, runOk, tool } from '../support/tools.js';

export { find } from '../support/kube-apiserver.js';
export { ENVIRONMENTS } from '../support/overlays.js';

const rendered = new Map<string, Promise<KubeObject[]>>();

/**
 * `kustomize build` of a folder of this repository (no plugins: nothing here uses KSOPS).
 * Cached per test file: argocd/ alone is 2 MB of upstream YAML. Callers must not mutate.
 */
export function render(dir: string): Promise<KubeObject[]> {
  let objects = rendered.get(dir);
  if (!objects) {
    objects = runOk(tool('kustomize'), ['build', path.resolve(REPO_ROOT, dir)]).then(parseObjects);
    rendered.set(dir, objects);
  }
  return objects;
}

/** tools/versions.env as a map. */
export function versions(): Record<string, string> {
  const text = readFileSync(path.join(REPO_ROOT, 'tools', 'versions.env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => /^([A-Z0-9_]+)=(\S+)/.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1], match[2]]),
  ) as Record<string, string>;
}

export function readYaml<T = unknown>(file: string): T {
  return parse(readFileSync(path.join(REPO_ROOT, file), 'utf8')) as T;
}

export interface ApplicationSource {
  repoURL: string;
  targetRevision: string;
  path?: string;
  chart?: string;
  ref?: string;
  helm?: { releaseName?: string; valueFiles?: string[]; valuesObject?: unknown };
}

export interface Application extends KubeObject {
  spec: {
    project: string;
    source?: ApplicationSource;
    sources?: ApplicationSource[];
    destination: { server?: string; name?: string; namespace: string };
    syncPolicy?: {
      automated?: { prune?: boolean; selfHeal?: boolean };
      syncOptions?: string[];
    };
    ignoreDifferences?: { group?: string; kind: string; name?: string; jsonPointers?: string[] }[];
    info?: { name: string; value: string }[];
  };
}

export interface AppProject extends KubeObject {
  spec: {
    sourceRepos?: string[];
    destinations?: { server?: string; name?: string; namespace: string }[];
    clusterResourceWhitelist?: { group: string; kind: string }[];
    namespaceResourceWhitelist?: { group: string; kind: string }[];
  };
}

export const isApplication = (object: KubeObject): object is Application => object.kind === 'Application';

/** Every source of an Application, single- or multi-source. */
export function sourcesOf(app: Application): ApplicationSource[] {
  return app.spec.sources ?? (app.spec.source ? [app.spec.source] : []);
}

/** The repository URL and revision every Application takes from argocd/repository. */
export function repository(): { url: string; revision: string } {
  const config = readYaml<{ data: { url: string; revision: string } }>('argocd/repository/repository.yaml');
  return config.data;
}

export function wave(object: KubeObject): number {
  const annotations = (object.metadata.annotations ?? {}) as Record<string, string>;
  return Number(annotations['argocd.argoproj.io/sync-wave'] ?? '0');
}

export interface RealApi {
  /** http://127.0.0.1:<port> of the API. */
  readonly url: string;
  /** http://127.0.0.1:<port> of its metrics listener (/metrics). */
  readonly metricsUrl: string;
  /** The connection string of its database on the embedded PostgreSQL. */
  readonly databaseUrl: string;
  stop(): Promise<void>;
}

/** The real API on a real (embedded) PostgreSQL with the migrations applied, as `npm start` runs it. */
export async function startRealApi(): Promise<RealApi> {
  const { startEmbeddedPostgres } = await import('../../apps/api/src/dev/embedded-postgres.js');
  const { createDatabaseIfMissing } = await import('../../apps/api/src/dev/local-database.js');
  const { applyMigrations } = await import('../../apps/api/src/db/migrations.js');
  const { loadConfig, requireDatabaseUrl } = await import('../../apps/api/src/config/config.js');
  const { createLogger } = await import('../../apps/api/src/observability/logger.js');
  const { startService } = await import('../../apps/api/src/service.js');

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'argocd-metrics-pg-'));
  const database = await startEmbeddedPostgres({ dataDir, ephemeral: true });
  await createDatabaseIfMissing(database.url(), 'items');
  await applyMigrations(database.url('items'));
  const config = requireDatabaseUrl(
    loadConfig({
      env: {
        NODE_ENV: 'test',
        DATABASE_URL: database.url('items'),
        PORT: '0',
        METRICS_PORT: '0',
        SHUTDOWN_DELAY_MS: '0',
      },
      secretsDir: '/nonexistent',
      configDir: '/nonexistent',
    }),
  );
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  const service = await startService(config, createLogger('silent', quiet));
  return {
    url: `http://127.0.0.1:${service.port}`,
    metricsUrl: `http://127.0.0.1:${service.metricsPort}`,
    databaseUrl: database.url('items'),
    stop: async () => {
      await service.shutdown();
      await database.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
