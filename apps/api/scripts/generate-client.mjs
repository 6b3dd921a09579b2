// Generates the Prisma client (apps/api/src/generated/prisma) with `prisma generate`.
//   node apps/api/scripts/generate-client.mjs            always regenerate (npm run generate)
//   node apps/api/scripts/generate-client.mjs --if-stale only when missing or older than the schema
//
// Why a wrapper: every Prisma CLI command first makes sure the native schema engine is
// installed, and downloads it if not. `generate` never runs that engine (it only checks the
// file exists), so where the download is impossible (offline machines, blocked CDN) we point
// PRISMA_SCHEMA_ENGINE_BINARY at a clearly named, non-executable placeholder and say so.
// Commands that do run the engine (`prisma migrate ...`, `prisma db ...`) still fail loudly.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../../..');
const schema = path.join(root, 'apps/api/prisma/schema.prisma');
const client = path.join(root, 'apps/api/src/generated/prisma/client.ts');

if (process.argv.includes('--if-stale') && existsSync(client) && statSync(client).mtimeMs >= statSync(schema).mtimeMs) {
  process.exit(0);
}

const require = createRequire(path.join(root, 'package.json'));
const enginesDir = path.dirname(require.resolve('@prisma/engines/package.json'));
const engineInstalled = readdirSync(enginesDir).some((file) => file.startsWith('schema-engine'));

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY && !engineInstalled) {
  const placeholder = path.join(os.tmpdir(), 'prisma-schema-engine-NOT-INSTALLED');
  writeFileSync(placeholder, 'Placeholder: the Prisma schema engine is not installed on this machine.\n', {
    mode: 0o644,
  });
  env.PRISMA_SCHEMA_ENGINE_BINARY = placeholder;
  console.warn(
    'note: the Prisma schema engine is not installed (it could not be downloaded). `prisma generate` does not use it, ' +
      'so the client is generated anyway; `prisma migrate`/`prisma db` commands need the real engine.',
  );
}

const prismaCli = require.resolve('prisma/build/index.js');
const result = spawnSync(process.execPath, [prismaCli, 'generate'], { cwd: root, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
