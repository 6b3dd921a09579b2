import { readFileSync } from 'node:fs';

/** The API version reported by /health and /openapi.json: the root package.json version. */
export function readVersion(): string {
  for (const candidate of ['../../../package.json', '../../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'python-api' && pkg.version) return pkg.version;
    } catch {
      // try the next location (src/ and dist/apps/api/src/ sit at different depths)
    }
  }
  return process.env.APP_VERSION ?? '0.0.0';
}
