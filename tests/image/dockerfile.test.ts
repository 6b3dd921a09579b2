import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { validate } from 'dockerfile-utils';
import { loadConfig } from '../../apps/api/src/config/config.js';
import { REPO_ROOT } from '../support/tools.js';
import {
  args,
  content,
  copyParts,
  effectiveInstructions,
  envOf,
  execForm,
  flags,
  keyword,
  labelsOf,
  lastOf,
  lineage,
  parseDockerfile,
  runCommand,
  type Stage,
} from './lib/dockerfile.js';

const df = parseDockerfile();
const packageJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  scripts?: Record<string, string>;
};
const allInstructions = df.stages.flatMap((s) => s.instructions);
const imageStages = df.stages.filter((s) => !s.basedOnStage);

// The ports the API listens on when nothing overrides them (no env, no mounted files).
const emptyDir = mkdtempSync(path.join(os.tmpdir(), 'image-config-'));
afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));
const defaults = loadConfig({ env: {}, secretsDir: emptyDir, configDir: emptyDir });

describe('Dockerfile base image', () => {
  it('builds every image on one exact Node LTS patch release of slim Debian, by its Docker Hub short name', () => {
    expect(imageStages.length).toBeGreaterThan(0);
    const bases = new Set(imageStages.map((s) => s.base));
    expect(bases.size).toBe(1);
    const [base] = [...bases];
    // node:<major>.<minor>.<patch>-bookworm-slim, no registry host, no digest-less floating tag.
    const match = /^node:(\d+)\.(\d+)\.(\d+)-bookworm-slim$/.exec(base ?? '');
    expect(match).not.toBeNull();
    // Even majors are the LTS lines; 24 is the active LTS the project targets.
    expect(Number(match?.[1]) % 2).toBe(0);
    expect(Number(match?.[1])).toBeGreaterThanOrEqual(24);
  });

  it("records that base in each published image's OCI labels", () => {
    for (const target of ['runtime', 'migrate']) {
      expect(labelsOf(df, target)['org.opencontainers.image.base.name']).toBe(imageStages[0]?.base);
    }
  });
});

describe('Dockerfile stages', () => {
  it('defines the targets that the Tiltfile and the manifests build: runtime, migrate and dev', () => {
    const names = df.stages.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['runtime', 'migrate', 'dev']));
    expect(new Set(names).size).toBe(names.length);
  });

  it("ends with runtime, so a plain `docker build .` (the plan's command) builds the production image", () => {
    expect(df.stages.at(-1)?.name).toBe('runtime');
  });

  it('copies --from only stages defined earlier in the file', () => {
    const seen: string[] = [];
    for (const stage of df.stages) {
      for (const i of stage.instructions.filter((x) => keyword(x) === 'COPY')) {
        const from = flags(i).from;
        if (from !== undefined) expect(seen).toContain(from);
      }
      if (stage.name) seen.push(stage.name);
    }
  });
});

describe('runtime target (image python-api)', () => {
  it('runs as a numeric, non-root user and group', () => {
    const user = lastOf(df, 'runtime', 'USER');
    expect(user).toBeDefined();
    const [uid, gid] = args(user!)[0]!.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(gid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(gid)).toBeGreaterThan(0);
  });

  it('starts node itself as PID 1 on the compiled production entry point (no npm, no shell)', () => {
    const entrypoint = execForm(lastOf(df, 'runtime', 'ENTRYPOINT')!);
    expect(entrypoint?.[0]).toBe('node');
    // tsc (tsconfig.json: rootDir ".", outDir "dist") compiles apps/api/src/server.ts, the
    // module that owns the process (config, listen, signals), to this file.
    const tsconfig = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: { outDir: string; rootDir: string };
    };
    const source = path.posix.join('apps/api/src/server.ts');
    const compiled = path.posix.join(
      tsconfig.compilerOptions.outDir,
      path.posix.relative(tsconfig.compilerOptions.rootDir, source).replace(/\.ts$/, '.js'),
    );
    expect(entrypoint?.slice(1)).toEqual([compiled]);
    expect(readFileSync(path.join(REPO_ROOT, source), 'utf8')).toMatch(/process\.on\('SIGTERM'/);
    // A CMD would only add arguments; none are expected.
    expect(lastOf(df, 'runtime', 'CMD')).toBeUndefined();
  });

  it('sets NODE_ENV=production', () => {
    expect(envOf(df, 'runtime').NODE_ENV).toBe('production');
  });

  it('exposes exactly the API and metrics ports of the configuration defaults', () => {
    const exposed = effectiveInstructions(df, 'runtime')
      .filter((i) => keyword(i) === 'EXPOSE')
      .flatMap(args)
      .map((p) => Number(p.replace(/\/tcp$/, '')));
    expect(exposed.sort()).toEqual([defaults.PORT, defaults.METRICS_PORT].sort());
  });

  it('carries the OCI labels a registry and a scanner read', () => {
    const labels = labelsOf(df, 'runtime');
    for (const key of ['title', 'description', 'version', 'revision', 'created', 'base.name']) {
      expect(labels[`org.opencontainers.image.${key}`]).toBeTruthy();
    }
    expect(labels['org.opencontainers.image.title']).toBe('python-api');
  });

  it('contains only production dependencies, compiled JavaScript and package.json: no sources, no compiler', () => {
    const copies = df.stage('runtime').instructions.filter((i) => keyword(i) === 'COPY');
    const copied = copies.map((i) => ({ from: flags(i).from, ...copyParts(i) }));
    expect(copied).toEqual([
      { from: 'prod-deps', sources: ['/app/node_modules'], destination: './node_modules' },
      { from: 'build', sources: ['/app/dist'], destination: './dist' },
      { from: undefined, sources: ['package.json'], destination: './' },
    ]);
    // ...and the dependencies come from a stage that pruned the dev ones.
    const prune = df.stage('prod-deps').instructions.map(runCommand).join(' && ');
    expect(prune).toMatch(/npm prune --omit=dev/);
    // The runtime stage itself installs nothing and compiles nothing.
    expect(df.stage('runtime').instructions.filter((i) => keyword(i) === 'RUN')).toEqual([]);
  });

  it('keeps its files owned by root, so the app user cannot rewrite its own code', () => {
    for (const i of df.stage('runtime').instructions.filter((x) => keyword(x) === 'COPY')) {
      expect(flags(i).chown).toMatch(/^(0|root)(:(0|root))?$/);
    }
  });
});

describe('migrate target (image python-api-migrate)', () => {
  it('runs `prisma migrate deploy` with node as PID 1, as a numeric non-root user', () => {
    const entrypoint = execForm(lastOf(df, 'migrate', 'ENTRYPOINT')!) ?? [];
    const cmd = execForm(lastOf(df, 'migrate', 'CMD')!) ?? [];
    expect(entrypoint).toEqual(['node', 'node_modules/prisma/build/index.js']);
    expect(cmd).toEqual(['migrate', 'deploy']);
    const [uid] = args(lastOf(df, 'migrate', 'USER')!)[0]!.split(':');
    expect(Number(uid)).toBeGreaterThan(0);
  });

  it('bakes in the Prisma CLI, prisma.config.ts, the schema and the migrations', () => {
    const copied = df
      .stage('migrate')
      .instructions.filter((i) => keyword(i) === 'COPY')
      .flatMap((i) => copyParts(i).sources.map((s) => `${flags(i).from ?? 'context'}:${s}`));
    expect(copied).toEqual(
      expect.arrayContaining(['migrate-deps:/app/node_modules', 'context:prisma.config.ts', 'context:apps/api/prisma']),
    );
    const prismaConfig = readFileSync(path.join(REPO_ROOT, 'prisma.config.ts'), 'utf8');
    expect(prismaConfig).toContain("'apps/api/prisma/schema.prisma'");
    expect(prismaConfig).toContain("'apps/api/prisma/migrations'");
  });

  it('fetches the schema engine for the migrate image, and fails the build if it is not there', () => {
    const engines = df.stage('engines').instructions.map(runCommand).join(' && ');
    const fetch = engines.indexOf('node node_modules/prisma/build/index.js version');
    const guard = engines.indexOf('ls node_modules/@prisma/engines/schema-engine-*');
    expect(fetch).toBeGreaterThanOrEqual(0);
    expect(guard).toBeGreaterThan(fetch);
    expect(lineage(df, 'migrate-deps').map((s) => s.name)).toContain('engines');
    const migrateDeps = df.stage('migrate-deps').instructions.map(runCommand).join(' && ');
    expect(migrateDeps).toMatch(/npm prune .*&& ls node_modules\/@prisma\/engines\/schema-engine-\*$/);
  });

  it('is the only image that needs the schema engine: runtime and dev build where it cannot be downloaded', () => {
    const usesEngines = (target: string) => {
      const stages = lineage(df, target).map((s) => s.name);
      const copiedFrom = effectiveInstructions(df, target)
        .filter((i) => keyword(i) === 'COPY')
        .map((i) => flags(i).from)
        .filter((from): from is string => from !== undefined);
      return [...stages, ...copiedFrom.flatMap((from) => lineage(df, from).map((s) => s.name))].includes('engines');
    };
    expect(usesEngines('migrate')).toBe(true);
    expect(usesEngines('runtime')).toBe(false);
    expect(usesEngines('dev')).toBe(false);
    // generate's wrapper falls back to a placeholder engine when none is installed.
    const build = effectiveInstructions(df, 'build')
      .filter((i) => keyword(i) === 'RUN')
      .map(runCommand);
    expect(build.join(' && ')).toContain('npm run generate');
    expect(readFileSync(path.join(REPO_ROOT, 'apps/api/scripts/generate-client.mjs'), 'utf8')).toContain(
      'PRISMA_SCHEMA_ENGINE_BINARY',
    );
  });

  it('does not depend on the API code, so a code change never rebuilds or reruns the migration', () => {
    const stages = lineage(df, 'migrate-deps').map((s) => s.name);
    expect(stages).not.toContain('build');
    const contextSources = stages
      .flatMap((name) => df.stage(name!).instructions)
      .concat(df.stage('migrate').instructions)
      .filter((i) => keyword(i) === 'COPY' && flags(i).from === undefined)
      .flatMap((i) => copyParts(i).sources);
    expect([...new Set(contextSources)].sort()).toEqual(
      ['apps/api/prisma', 'package-lock.json', 'package.json', 'prisma.config.ts'].sort(),
    );
  });

  it('has libssl, which Prisma needs to pick and run the right engine, where the CLI runs', () => {
    const installsOpenssl = (stage: Stage) =>
      stage.instructions.some((i) => keyword(i) === 'RUN' && /apt-get install .*\bopenssl\b/.test(runCommand(i)));
    for (const target of ['build', 'migrate', 'dev']) {
      expect(lineage(df, target).some(installsOpenssl)).toBe(true);
    }
    // The runtime's pg driver is pure JavaScript: no libssl there.
    expect(lineage(df, 'runtime').some(installsOpenssl)).toBe(false);
  });
});

describe('dev target (Tilt)', () => {
  it('reloads through the `dev` npm script and runs as a numeric non-root user who owns /app', () => {
    expect(execForm(lastOf(df, 'dev', 'CMD')!)).toEqual(['npm', 'run', 'dev']);
    expect(packageJson.scripts?.dev).toMatch(/watch/);
    const [uid] = args(lastOf(df, 'dev', 'USER')!)[0]!.split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    const chowned = effectiveInstructions(df, 'dev').some(
      (i) => keyword(i) === 'RUN' && runCommand(i) === `chown ${args(lastOf(df, 'dev', 'USER')!)[0]} /app`,
    );
    expect(chowned).toBe(true);
  });

  it("lets the dev target's npm write its cache: each cache mount in the home folder is created first, owned by the app user", () => {
    // BuildKit creates a missing mount target owned by root; `npm ci` in a dev pod then fails with EACCES.
    const runs = effectiveInstructions(df, 'dev').filter((i) => keyword(i) === 'RUN');
    const targets = runs.flatMap((i, index) =>
      [...(flags(i).mount ?? '').matchAll(/target=(\/home\/app[^,\s]*)/g)].map((m) => ({ dir: m[1]!, index })),
    );
    expect(targets.map((t) => t.dir)).toContain('/home/app/.npm');
    for (const { dir, index } of targets) {
      const created = runs.slice(0, index).some((i) => runCommand(i).includes(`install -d -o app -g app ${dir}`));
      expect({ dir, created }).toEqual({ dir, created: true });
    }
  });
});

describe('Dockerfile hygiene', () => {
  it('uses no ADD at all (so nothing is fetched from a URL or git at build time); COPY is explicit', () => {
    expect(allInstructions.filter((i) => keyword(i) === 'ADD').map(content)).toEqual([]);
    expect(allInstructions.map(content).filter((c) => /\b(curl|wget)\b/.test(c))).toEqual([]);
  });

  it('copies no secrets, keys or .env files and declares no secret-looking ENV or ARG', () => {
    const sources = allInstructions.filter((i) => keyword(i) === 'COPY').flatMap((i) => copyParts(i).sources);
    for (const source of sources) {
      expect(source).not.toMatch(/(^|\/)\.env|\.agekey$|keys\.txt$|\.dec\.yaml$|\.pem$|\.key$|secret/i);
      expect(source).not.toBe('.');
    }
    const names = allInstructions
      .filter((i) => ['ENV', 'ARG'].includes(keyword(i)))
      .flatMap((i) => args(i).map((a) => a.split('=')[0]!));
    expect(names.filter((n) => /SECRET|PASSWORD|TOKEN|DATABASE_URL|PRIVATE|_KEY$/i.test(n))).toEqual([]);
  });

  it('calls only npm scripts that package.json defines', () => {
    const called = allInstructions
      .filter((i) => ['RUN', 'CMD', 'ENTRYPOINT'].includes(keyword(i)))
      .flatMap((i) => [...content(i).matchAll(/npm"?,?\s*"?run"?,?\s*"?([\w:-]+)/g)].map((m) => m[1]!));
    expect(called.length).toBeGreaterThan(0);
    for (const script of called) expect(Object.keys(packageJson.scripts ?? {})).toContain(script);
  });

  it('passes the dockerfile-utils linter with no findings', () => {
    const findings = validate(df.text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(findings).toEqual([]);
  });
});
