import { describe, expect, it } from '@jest/globals';
import { contextFiles as listContextFiles, covers, inContext, repoFiles as listRepoFiles } from './lib/context.js';
import { copyParts, flags, keyword, parseDockerfile } from './lib/dockerfile.js';

const repoFiles = listRepoFiles();
const contextFiles = listContextFiles();

describe('.dockerignore', () => {
  it.each([
    'node_modules/express/package.json',
    'apps/api/node_modules/x/index.js',
    '.git/HEAD',
    '.data/postgres/PG_VERSION',
    '.env',
    '.env.local',
    'apps/api/.env',
    'gitops/overlays/dev/secrets/app-secret.dec.yaml',
    'apps/api/src/leak.dec.yaml',
    'keys.txt',
    'python-api-dev.agekey',
    'tls/server.key',
    '.tools/bin/sops',
    'dist/apps/api/src/server.js',
    'coverage/lcov.info',
    'test-results/junit.xml',
    'apps/api/test/items.test.ts',
    'apps/api/src/generated/prisma/client.ts',
    'npm-debug.log',
  ])('keeps %s out of the build context', (file) => {
    expect(inContext(file)).toBe(false);
  });

  it('lets in every file the Dockerfile copies from the context', () => {
    const df = parseDockerfile();
    const sources = df.stages
      .flatMap((s) => s.instructions)
      .filter((i) => keyword(i) === 'COPY' && flags(i).from === undefined)
      .flatMap((i) => copyParts(i).sources);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      const matched = contextFiles.filter((f) => covers(source, f));
      expect({ source, matched: matched.length > 0 }).toEqual({ source, matched: true });
    }
    for (const needed of ['package.json', 'package-lock.json', 'prisma.config.ts', 'apps/api/prisma/schema.prisma']) {
      expect(contextFiles).toContain(needed);
    }
    const migrations = repoFiles.filter((f) => /^apps\/api\/prisma\/migrations\/.+\.sql$/.test(f));
    expect(migrations.length).toBeGreaterThan(0);
    for (const sql of migrations) expect(contextFiles).toContain(sql);
  });

  it('sends no manifests, scripts, tests, keys or secrets of this checkout to the builder', () => {
    const unexpected = contextFiles.filter(
      (f) =>
        /^(gitops|argocd|scripts|tests|docs|tools|\.tools|\.ci|\.git)\//.test(f) ||
        /(^|\/)\.env|\.agekey$|keys\.txt$|\.dec\.yaml$|\.sops\.yaml$|\.pem$|\.key$/.test(f),
    );
    expect(unexpected).toEqual([]);
  });
});
