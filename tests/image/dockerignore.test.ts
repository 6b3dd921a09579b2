import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import ignore from '@balena/dockerignore';
import { copyParts, flags, keyword, parseDockerfile, repoRoot } from './lib/dockerfile.js';

// Docker's own matching rules (balena's port of the engine's pattern matcher).
const dockerignore = ignore().add(readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8'));
const inContext = (file: string) => !dockerignore.ignores(file);

// Files of this checkout, tracked or not (but not git-ignored), as a build would see them.
const repoFiles = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  cwd: repoRoot,
  encoding: 'utf8',
})
  .split('\n')
  .filter(Boolean);
const contextFiles = repoFiles.filter(inContext);

/** Does a COPY source (a file, a folder or a filepath.Match glob) cover this file? */
function covers(source: string, file: string): boolean {
  const clean = source.replace(/^\.\//, '').replace(/\/$/, '');
  if (!/[*?[]/.test(clean)) return file === clean || file.startsWith(`${clean}/`);
  const pattern = clean.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${pattern}(/.*)?$`).test(file);
}

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
